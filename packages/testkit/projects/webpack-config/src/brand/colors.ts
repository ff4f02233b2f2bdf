export const brandColor = '#16a34a';
