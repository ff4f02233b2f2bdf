/**
 * Passwords attackers try first: the most common ones of public breach lists (people's
 * favourites, keyboard walks, sports, names, `password` and its spellings), written out
 * here from memory of those lists, lowercase. `password-policy.ts` also catches them with
 * digits or symbols added at the end.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  `
!qaz2wsx 000000 00000000 007007 0987654321 1111 111111 11111111 1111111111 112233 11223344 121212
12121212 123123 123123123 123321 1234 12341234 12344321 12345 1234512345 123454321 123456 1234567
12345678 123456789 1234567890 123456789a 12345678a 1234567a 123456a 1234qwer 12369874 123abc
123abc456 123qwe 123qweasd 131313 13131313 147258369 159753 1a2b3c 1a2b3c4d 1q2w3e 1q2w3e4r
1q2w3e4r5t 1q2w3e4r5t6y 1q2w3e4r5t6y7u8i 1qaz2wsx 1qaz2wsx3edc 1qaz@wsx 1qazxsw2 1qazxsw23edc 2000
22222222 2wsx3edc 33333333 3edc4rfv 44444444 555555 55555555 654321 666666 66666666 696969 7654321
777777 7777777 77777777 87654321 88888888 987654321 99999999 a123456 a12345678 a123456789 a1b2c3
a1b2c3d4 aa123456 aaaaaa aaaaaaaa abc123 abc12345 abc123456 abc123abc abcabc abcabc123 abcd123
abcd1234 abcde12345 abcdef abcdefg abcdefgh access access123 access14 accessdenied admin admin!
admin123 admin1234 admin12345 admin2024 admin2025 admin2026 administrator administrator1 agent007
alexander alexandra always amanda amanda1 amber america america1 andrea andreas andrew andrew1
android angel angel123 angelina angels anthony anything apple apple1 apple123 army arsenal arsenal1
asdf123 asdf1234 asdfasdf asdfgh asdfgh123 asdfghjk asdfghjkl asdzxc ashley ashley1 assassin austin
australia autumn2025 autumn2026 avengers babyboy babygirl babygirl1 bacon banana banana1 barcelona
baseball baseball1 baseball12 basketball basketball1 batman batman123 bear bears beatles beer
believe benjamin berlin biteme blessed blessing blink182 blues bond007 boston brandon brandon1
brazil bulls burger business buster buster123 butterfly butterfly1 california canada captain
changeit changeme changeme1 charles charlie charlie1 charlie123 charlotte cheese cheese1 chelsea
chelsea1 chelsea12 cherry chicago chicken chicken1 chocolate chocolate1 christ christian christina
christmas christmas1 christopher cisco client coffee coffee1 company computer computer1 cookie
cookies corvette cosmos country cowboys cowboys1 crystal customer cutie dallas dallas1 dance dancer
daniel daniel1 darling database david123 day december default default1 devil666 diamond diamonds
dolphin dolphins donkey dragon dragon12 dragon123 dragonball dragonfly dragons drums eagle eagles
elizabeth emily eminem emma england enterprise everything facebook falcon february ferrari fisher
fishing flower flowers football football! football1 football12 football123 forever forever1 fortnite
france freedom freedom1 friday galaxy george germany ghost ginger ginger1 gmail godisgood golden
golfer golfing goodbye goodluck google google123 green greenday guest guest123 guitar guitar1 hannah
hannah1 harley harley1 hawk hawks heather heaven hello hello123 hello1234 hellokitty helloworld
hiphop hockey hockey123 holiday holidays honey honeybee hotdog hotmail hunter hunter1 hunter123
hunter2 hunting ijnuhb ilovegod iloveme ilovemom ilovemymom iloveu iloveyou iloveyou! iloveyou1
iloveyou123 iloveyou2 india internet iphone ironman jackson jackson1 james007 james123 january
jasmine jasmine1 jason jason1 jazz jennifer jennifer1 jessica jessica1 jesus jesus1 jesuschrist
john1234 johnson jonathan jordan jordan1 jordan23 joseph joseph1 joshua joshua1 justin justin1
juventus kevin killer killer1 klaster knight knights lakers lauren lauren1 lemon letmein letmein!
letmein1 letmein123 letmein2 letmein2024 letmeinnow liberty linux lion lionking liverpool login
login123 logon london london123 love love1234 lovelove lovely loveme lover lovers loveyou lucifer
maddison madison maggie manager manager1 manchester marine marvel master master1 master123 masterkey
matrix matrix1 matthew matthew1 megan melissa member member123 mercedes metallica mexico michael
michael1 michael123 michelle michelle1 microsoft military minecraft minecraft1 mnbvcxz mobilemail
mom monday monitor monitoring monkey monkey1 monkey12 monkey123 monkeys monster monster1 montana
moon moscow muffin music music1 mustang mustang1 mypass mypass123 mypassword mysecret mysql naruto
naruto123 natalie navy ncc1701 network never newpass newpassword newyork nicholas nicole nicole1
ninja nirvana nokia nopassword nothing october office office123 oldpassword olivia onepiece
opensesame openup oracle orange orange1 outlook p455w0rd p4ssword p@ssw0rd p@ssword pa55w0rd
pa55word packers panther paris party party1 pass passme passpass passw0rd passw0rd1 password
password! password00 password007 password01 password1 password11 password12 password123 password1234
password13 password2 password2024 password2025 password2026 password21 password22 password69
password77 password88 password99 password? passwort patrick patriot peanut peanut1 pepper pepper1
phoenix phoenix1 piano pikachu pizza pizza123 planet plmokn poiuytrewq pokemon pokemon1 pokemon123
police porsche postgres postgresql princess princess1 princess12 princess2 pumpkin purple q123456
q1w2e3 q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 qazwsx qazwsxedc qazxsw qazxswedc qwe123 qwe12345 qwe123qwe
qweasd qweasd123 qweasdzxc qweqwe qwer1234 qwert123 qwert12345 qwerty qwerty! qwerty007 qwerty1
qwerty11 qwerty12 qwerty123 qwerty1234 qwerty2024 qwerty321 qwertyqwerty qwertyu qwertyui qwertyui1
qwertyuiop qwertyuiopasdfghjkl racecar rachel racing rainbow ranger realmadrid redsox richard robert
robert1 roblox rockandroll rockstar rocky1 rocky123 rockyou root root1234 rootroot samantha
samantha1 samsung samsung1 samurai sarah sarah1 secret secret1 secret123 security september server
server123 service sesame shadow shadow1 shadow123 shadows signin silver singer slipknot sniper
soccer soccer1 soccer12 soccer123 soldier something sophie speed spiderman spiderman1 spring2024
spring2025 spring2026 starship startrek starwars starwars1 steelers stephen strawberry summer
summer2020 summer2021 summer2022 summer2023 summer2024 summer2025 summer2026 sunday sunflower
sunshine sunshine1 superman superman1 superman123 superstar support support123 sweetheart sweetie
taylor taylor1 temp temp123 temporary temppass tennis tequila test test123 test1234 tester testing
testing123 texas thomas thomas1 thunder thx1138 tiger tigers tigger tigger123 tokyo toor topsecret
trustme trustno1 turbo turtle twitter ubuntu universe user user123 username username1 vacation
vampire victoria vodka volleyball warrior weekend welcome welcome! welcome1 welcome123 welcome2
welcome2024 welcome2025 welcome2026 whatever whatever1 whiskey william williams windows windows7
winter2024 winter2025 winter2026 wolf wolfpack wolves xsw2zaq1 yahoo yamaha yankees yankees1 yellow
youtube youtube1 zaq!2wsx zaq12wsx zaq1xsw2 zaq1zaq1 zombie zombies zxcasd zxcv1234 zxcvbn zxcvbnm
zxcvbnm1 zxcvbnm123 zxcvbnmasdfghjkl
`
    .split(/\s+/)
    .filter(Boolean),
);
