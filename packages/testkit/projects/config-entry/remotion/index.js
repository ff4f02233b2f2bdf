import { registerRoot } from 'remotion';
import { Videos } from './Videos.jsx';

registerRoot(Videos);
