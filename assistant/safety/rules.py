"""Fast rule layer of the input rails: emergency red flags, self-harm, harmful requests, injection.

Rules are regular expressions over lower-cased text, grouped by category. A red-flag match only
counts when it is *asserted now*: the clause it sits in must not negate it ("no chest pain",
"denies shortness of breath"), and the message must not frame it as past history ("years ago",
"history of") or as a general/hypothetical question ("what are the signs of a stroke?") unless it
also says it is happening now ("right now", "just collapsed"). Rules are kept for what they are
reliable at; paraphrases they miss are the learned classifier's job (`assistant.safety.classifier`).

Notable choice: negation scope is the clause (split at punctuation and "but"/"although"), looking
back at most five words, as in NegEx; this is simple, explainable and easy to test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NEGATORS = re.compile(
    r"\b(no|not|never|without|denies|denied|deny|negative for|free of|nor|none|nobody|no one|neither|"
    r"isn'?t|aren'?t|wasn'?t|don'?t|doesn'?t|didn'?t|haven'?t|hasn'?t|hadn'?t|"
    r"no longer|ruled out|absence of|stopped|went away|resolved)\b"
)
_CLAUSE_SPLIT = re.compile(r"[.;!?\n]|,\s*(?:but|although|though|however)\b|\b(?:but|although|though|however)\b")
_ACUTE = re.compile(
    r"\b(right now|(?<!fine )(?<!okay )(?<!ok )(?<!well )(?<!better )(?<!normal )(?<!good )(?<!stable )now|currently|at the moment|this (?:morning|evening|afternoon)|tonight|today|"
    r"just (?:started|collapsed|fainted|took|swallowed|passed out)|is having|are having|am having|"
    r"i'?m having|he'?s having|she'?s having|for the (?:last|past) (?:few )?(?:minutes?|hours?)|"
    r"minutes? ago|an hour ago|hours? ago|please help|help me now|need help now|call (?:911|999|112|an ambulance))\b"
)
_PAST = re.compile(
    r"\b(?:(?:\d+|a few|several|many|two|three|four|five|ten) )?(?:years?|months?|weeks?) ago\b|\blast week\b|"
    r"\bfor (?:many |several |a few )?(?:years|months)\b|\b(?:since|after) (?:my|his|her|their) (?:stroke|heart attack|seizure|surgery)\b|"
    r"\bas a (?:kid|child|teenager|teen|baby)\b|\bbeen (?:like )?that way\b|"
    r"\blast (?:year|month|summer|winter|spring|autumn|fall|january|february|march|april|may|june|july|august|september|october|november|december)\b|"
    r"\bin the (?:spring|summer|autumn|fall|winter)\b|\bused to\b|\bhistory of\b|"
    r"\bwhen (?:i|he|she|they|we) (?:was|were) (?:a |an )?(?:\w+ )?(?:child|kid|young|younger|little|small|teen\w*|student|baby|toddler|"
    r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)\b|"
    r"\bback in (?:19|20)\d\d\b|\bin (?:19|20)\d\d\b"
)
_GENERAL = re.compile(
    r"\b(what (?:are|is) (?:the )?(?:signs?|symptoms?|warning signs?|causes?|risk factors?|treatments?)|"
    r"how (?:do|can|would|should) (?:i|you|we|one|people) (?:tell|recogni[sz]e|know|spot|identify|prevent)|how long (?:should|do|can|must) (?:i|you|we|one|people)|what signs|"
    r"what (?:should|do|would|could) (?:i|you|we|one|people|staff|they|(?:the |our )?\w+ers|parents) do if|what to do if|"
    r"if (?:someone|somebody|a person|a patient|a child|my \w+ ever)|if (?:\w+ ){1,3}ever\b|hypothetical(?:ly)?|thinking ahead|"
    r"(?:reading|read|learning|learnt|learned) about|(?:gp|doctor|nurse|consultant|surgeon|dentist|physio|midwife|paramedic) asked (?:me )?(?:about|if|whether)|"
    r"in (?:a|my) (?:novel|story|essay|exam|class|lecture)|for (?:a|my) (?:\w+ )?(?:novel|story|book|screenplay)|"
    r"writing (?:a|an|my|the) (?:\w+ ){0,3}(?:novel|story|book|screenplay|script|scene|thriller|mystery|drama|play|episode|chapter)|"
    r"(?:tv|television|medical|crime|hospital) (?:drama|show|series)|watched (?:a|an) (?:\w+ )?(?:drama|film|documentary|programme|program|show)|"
    r"(?:training|course|module|session) (?:covered|covers|taught|teaches|included)|(?:i'?m|i am|as) an? (?:\w+ )?student|revision|revising|studying for|"
    r"\b(?:mrcp|usmle|plab|osce|nclex)\b|first aid (?:course|training|certificate)|"
    r"according to (?:the )?(?:\w+ )?(?:guidelines?|council|nice|aha|who|bnf|protocol)|"
    r"(?:school|nursery|workplace|hospital|our)'?s? (?:\w+ )?policy|care plan|"
    r"indications? for|first[- ]line|how (?:is|are) (?:an? )?[\w-]+(?: [\w-]+){0,3} (?:treated|managed) in hospital|"
    r"what happens (?:in|to) (?:the|your|my) body|for (?:an?|my) (?:exam|essay|class|assignment|quiz)|"
    r"explain|difference between|how common|statistics|is it true that|can you tell me about|how does|how do (?:doctors|hospitals|vaccines|they)|"
    r"why (?:does|is|do|are)|what (?:is|are) (?:an? )?[\w-]+(?: [\w-]+)? (?:and|\?)|what (?:is|are) (?:an? )?[\w-]+(?: [\w-]+)?$)\b"
)

# (category, reason, pattern). Every match must be non-negated in its clause.
_RED_FLAGS: list[tuple[str, str, str]] = [
    ("cardiac", "crushing chest pain", r"crushing (?:chest )?pain|chest (?:feels? like|is) (?:being )?(?:crushed|squeezed)|elephant (?:sitting )?on (?:my|his|her) chest"),
    ("cardiac", "heart attack now", r"(?<!about )(?<!of )(?:having|is having|am having|think (?:i'?m|he'?s|she'?s|i am) having) (?:a )?heart attack"),
    ("stroke", "stroke signs", r"face (?:is )?(?:drooping|droops|drooped)|droop(?:ing|y)? (?:face|mouth|side of (?:the|his|her|my) face)|slurr(?:ed|ing) (?:speech|words|his words|her words|my words)|speech (?:is|was) slurred|"
               r"(?:sudden|suddenly)\W+(?:\w+\W+){0,3}(?:weak|weakness|numb|numbness|paraly[sz]ed|can'?t (?:move|lift|see|speak|talk))|"
               r"can'?t (?:lift|raise|move) (?:his|her|my|their) (?:left|right)? ?(?:arm|leg)|one side of (?:his|her|my|the) (?:body|face) (?:is|went|has gone) (?:numb|weak|limp)|"
               r"(?:having|is having|had) a stroke|worst headache (?:of|in) (?:my|his|her|their) life|thunderclap headache"),
    ("anaphylaxis", "anaphylaxis signs", r"anaphyla\w+|(?:throat|tongue|lips?|face|mouth) (?:is |are |feels? |started )?(?:swelling|swollen|closing|tight)|swelling (?:of|in) (?:the |his |her |my )?(?:throat|tongue|lips?)|"
               r"allergic reaction\W+(?:\w+\W+){0,8}(?:breath|wheez|swell|hives)|(?:used|using|gave|giving|jabbed|injected|needs|needed|grab(?:bed)?|get) (?:\w+ ){0,2}epi-?pens?|stung\W+(?:\w+\W+){0,6}(?:breath|swell)"),
    ("breathing", "cannot breathe", r"can'?t breathe|cannot breathe|unable to breathe|struggling to breathe|gasping for (?:air|breath)|(?:lips|face|skin) (?:are |is |turning |turned |going )+(?:blue|grey|gray)|turning blue|choking|stopped breathing|not breathing"),
    ("bleeding", "severe bleeding", r"(?:won'?t|will not|doesn'?t|does not|can'?t|cannot) stop(?:ping)? (?:the )?bleed|bleeding (?:heavily|a lot|badly|profusely|everywhere|non-?stop|through)|"
               r"(?:heavy|severe|massive|uncontrolled|uncontrollable) bleeding|soak(?:ing|ed) through|spurting|pool of blood|(?:vomiting|throwing up|coughing up) (?:a lot of )?blood|blood everywhere"),
    ("overdose", "overdose or poisoning", r"overdosed|overdosing|(?:took|taken|had|has|having|done|did|an|suspected|possible|intentional|accidental) (?:an? )?(?:\w+ )?overdose|overdose (?:on|of|with) (?!water)|(?:going|gonna|want|wanted|planning|about) to overdose|the overdose|(?<!in )(?<!about )(?<!for )(?<!treat )(?<!of )(?:a |an )?overdose[!.]|took (?:a |an )?(?:whole|entire|full) (?:bottle|pack|box|packet)|took (?:too many|way too many|\d{2,}|a handful of|all (?:of )?(?:my|his|her|the)) (?:\w+ )?(?:pills|tablets|capsules)|"
               r"(?:swallowed|drank|ate|ingested|got into|chewed)\W+(?:\w+\W+){0,8}(?:bleach|batter(?:y|ies)|antifreeze|drain cleaner|"
               r"rat poison|poison\w*|pills?|tablets?|capsules?|medicines?|medications?|detergent|(?:laundry|dishwasher) (?:pods?|tablets?|capsules?)|"
               r"magnets?|mushrooms?|berries|weed ?killer|pesticides?|insecticide|paracetamol|acetaminophen|tylenol|ibuprofen|aspirin|"
               r"methadone|opioids?|fentanyl|nicotine|e-?liquid|vape (?:liquid|juice)|lamp oil|paraffin|white spirit|cleaner|chemicals?|methanol)|poisoned"),
    # Anything swallowed or drunk counts unless the message says the person is fine (a crayon, soil,
    # a sip of coffee); the toxic and medicinal ones above count even then (paracetamol is silent at first).
    ("ingestion", "swallowed or drank something", r"(?:swallowed|drank|ate|ingested) (?:some |a |an |the |all |half |\d+ |two |three |several )"),
    ("unresponsive", "hard to wake or unresponsive", r"(?:hard|difficult|impossible) to (?:wake|rouse|arouse)|(?:can'?t|cannot|won'?t|will not) (?:wake (?:him|her|them|it|my \w+)?|be woken|rouse)|won'?t wake up|"
               r"unresponsive|not responding|unconscious|passed out and|collapsed|(?:very |really )?floppy|limp and|won'?t open (?:his|her|their) eyes"),
    ("seizure", "seizure", r"(?:having|is having|had) a (?:seizure|fit|convulsion)|seizing|convulsing|seizure (?:that )?(?:won'?t stop|lasting|for (?:more than )?(?:\d+|five|ten) min)|(?:seizure|fit|convulsion) (?:has )?(?:just )?(?:started|began|is happening)"),
    ("meningitis", "meningitis signs", r"(?:stiff neck|neck (?:is |so )?stiff)\W+(?:\w+\W+){0,10}(?<!no )(?<!without )(?:fever|rash|light)|(?:fever|rash)\W+(?:\w+\W+){0,10}(?:stiff neck|neck (?:is )?stiff)|rash (?:that )?(?:doesn'?t|does not|won'?t) fade|non-?blanching|"
               r"(?:purple|dark red|purplish) (?:spots|rash|blotches|marks|dots)\W+(?:\w+\W+){0,10}(?:fever|temperature|temp)|(?:fever|temperature|temp)\W+(?:\w+\W+){0,20}(?:purple|dark red|purplish) (?:spots|rash|blotches|marks|dots)"),
    ("infant_fever", "fever in a young baby", r"(?:(?:\d+|one|two|three|four|five|six|seven|eight|ten|newborn)\W*(?:-| )?(?:week|day)s?|(?:[12]|one|two)\W*(?:-| )?months?)[- ]old\W+(?:\w+\W+){0,8}(?<!no )(?<!without )(?:fever|temperature of|temp of)|newborn\W+(?:\w+\W+){0,6}(?<!no )(?<!without )fever"),
    # Added at 14:03 UTC from both layers' misses on the training files (by-writer out-of-fold check);
    # clinical red flags that need no chest-pain combination. The classifier gate filters their false alarms.
    ("cardiac", "angina not relieved by GTN", r"(?:gtn|nitro\w*|spray|sprays)\W+(?:\w+\W+){0,10}(?:no difference|not helped|hasn'?t helped|didn'?t help|not (?:helping|working|settling)|no effect|(?:won'?t|will not|didn'?t|did not) settle)|(?:won'?t|will not|didn'?t|did not) settle with (?:my |the )?(?:spray|gtn)"),
    ("cardiac", "cardiac arrest or repeated ICD shocks", r"(?:went|gone|going) into cardiac arrest|(?:is|he'?s|she'?s) in cardiac arrest|(?:doing|giving|started|starting) cpr(?! (?:training|course|class|refresher))|"
               r"(?:shocked|shocks?|fired)\W+(?:\w+\W+){0,4}(?:icd|defib\w*)\W+(?:\w+\W+){0,4}(?:twice|three|times|again)|(?:icd|defib\w*)\W+(?:\w+\W+){0,4}(?:shocked|fired|went off)\W+(?:\w+\W+){0,4}(?:twice|three|times|again)"),
    ("stroke", "stroke signs", r"(?:face|smile|mouth) (?:\w+ ){0,2}(?:lopsided|crooked|uneven|dropped)|can'?t get (?:his|her|my|their|the) words out|"
               r"(?:sudden(?:ly)?|just) (?:\w+ ){0,3}(?:lost|loss of) (?:the )?(?:sight|vision) (?:in|of) (?:one|his|her|my|the) (?:\w+ )?eye|(?:like )?a curtain (?:coming|came|falling) (?:down|across)"),
    ("breathing", "severe breathing difficulty", r"(?:lips|face|skin)\W+(?:\w+\W+){0,3}(?:blue|bluish|grey|gray)\b|(?:he'?s|she'?s|is|gone|turned|turning|going) (?:blue|bluish|grey|gray)\b(?! (?:inhaler|badge|light))|"
               r"can'?t (?:speak|talk|finish|say) (?:in )?(?:full|whole|complete) sentences?|(?:only |just )?(?:get |say )?(?:a few|one or two|two or three) words? (?:out )?(?:between|at a time)|"
               r"sucking in (?:under|between|below) (?:his|her|the|their) ribs|working (?:really |so |very )?hard to breathe|"
               r"(?:blue inhaler|reliever|ventolin|salbutamol|inhaler)\W+(?:\w+\W+){0,10}(?:no relief|no difference|not (?:helping|working|lasting)|isn'?t (?:helping|working|lasting))"),
    ("seizure", "seizure", r"(?:is|he'?s|she'?s|they'?re|keeps|started|been|baby'?s|son'?s|daughter'?s|still) fitting\b|seizures? back to back|(?:first|another|second)(?: ever)? (?:seizure|fit)\b"),
    ("unresponsive", "hard to wake or unresponsive", r"(?:isn'?t|is not|barely|hardly|not really) respon(?:ding|sive)|(?:hasn'?t|has not) (?:come|woken) (?:round|around|to)|(?:his|her|their) eyes (?:won'?t|will not) open"),
    ("overdose", "overdose or poisoning", r"took (?:about |around |maybe |like |over |at least )?(?:\d{2,}|twenty|thirty|forty|fifty|a whole (?:week|box|packet|strip))\W+(?:\w+\W+){0,2}(?:of )?(?:\w+ )?(?:paracetamol|acetaminophen|ibuprofen|aspirin|tablets|pills|capsules|co-?codamol|codeine|tramadol|sertraline|citalopram|amitriptyline|diazepam)|"
               r"(?:swig|sip|mouthful|gulp)s? (?:of|from) (?:\w+ ){0,4}(?:bleach|weed ?killer|antifreeze|drain cleaner|pesticide|methanol|white spirit|paraffin|lamp oil)|(?:swallowed|swalled|swallowd|swalowed|swollowed|swolled) (?:\w+ ){0,3}batter(?:y|ies)"),
    ("infant_fever", "fever in a young baby", r"(?:(?:\d+|one|two|three|four|five|six|seven|eight|ten|eleven|twelve)\W*(?:-| )?(?:week|day)s?|(?:[12]|one|two)\W*(?:-| )?months?)[- ]old\W+(?:\w+\W+){0,10}(?:3[89]|4[01])(?:[.,]\d)?(?!\d)(?!\s*(?:weeks?|wks?|days?|months?|years?|kg|g\b|ml|cm|%|minutes?|hours?))|"
               r"(?:sickle cell|no spleen|splenectomy|on chemo\w*|neutropeni\w+)\W+(?:\w+\W+){0,12}(?:(?<!no )(?<!without )fever|temp(?:erature)?\W+(?:\w+\W+){0,2}(?:3[89]|4[01]))"),
    ("limb", "cold, pale or numb limb", r"(?:leg|foot|arm|hand)\W+(?:\w+\W+){0,4}(?:gone|went|turned|is|has been|looks?|feels?) (?:\w+ )?(?:cold|white|pale|blue|bluish)\W+(?:\w+\W+){0,4}(?:cold|white|pale|blue|bluish|numb|painful|agony)"),
    ("cauda_equina", "saddle numbness or loss of bladder control", r"numb\w*\W+(?:\w+\W+){0,5}(?:bottom|inner thighs|saddle|between (?:my|the|his|her) legs|genitals|back passage)|(?:bottom|saddle area|between my legs|inner thighs)\W+(?:\w+\W+){0,4}numb|"
               r"wet (?:my|him|her)self without (?:realising|realizing|noticing)|can'?t (?:tell|feel) when i need to (?:pee|wee|urinate)"),
    ("head_injury", "head injury with red flags", r"(?:knocked out|lost consciousness|blacked out|(?:hit|banged|bumped|smacked) (?:his|her|my|their) head|head injury)\W+(?:\w+\W+){0,15}(?:pupils?|vomit\w*|threw up|sick again|(?:very |really |unusually )?(?:sleepy|drowsy)|confused|same questions|repeating himself|repeating herself)"),
    ("pregnancy", "pregnancy red flags", r"(?:haven'?t|hasn'?t|have not|not) felt (?:the |my )?baby move|baby (?:hasn'?t|has not|isn'?t|stopped) (?:moved|moving|kicking)|"
               r"(?:pregnant|weeks)\W+(?:\w+\W+){0,15}(?:flashing lights|seeing (?:spots|stars|flashes)|blurr(?:ed|y) vision)|soaking (?:through )?(?:a |one |my )?(?:pad|pads|maternity pad|towel)s?\b|pads? (?:an|every|each) (?:hour|\d+ min\w*|few min\w*|half hour)"),
    ("infant", "bilious vomiting or dehydration in a baby", r"(?:vomit\w*|throwing up|being sick|sick)\W+(?:\w+\W+){0,3}(?<!not )(?<!no )(?:green|bile|bilious)|green (?:vomit|sick)|sunken (?:soft spot|fontanelle|eyes)|soft spot (?:\w+ ){0,3}sunken|no wet napp(?:y|ies) (?:in|for|since)"),
    ("trauma", "serious injury", r"bone (?:is )?(?:poking|sticking) (?:out|through)|(?:fell|fallen|fall|crash\w*|accident|landed|dived|diving)\W+(?:\w+\W+){0,15}can'?t (?:feel|move) (?:his|her|my|their) (?:legs|arms|feet)"),
    ("torsion", "sudden testicular pain", r"(?:sudden\w*|severe|agony|killing)\W+(?:\w+\W+){0,6}(?:testicle|testis|my (?:right |left )?ball|scrotum)|(?:testicle|testis|my (?:right |left )?ball|scrotum)\W+(?:\w+\W+){0,6}(?:sudden\w*|agony|killing|severe)"),
    ("cardiac_combo", "chest pain", r"(?:chest|heart) (?:pain|pressure|tightness|heaviness|squeezing|ache)|pain in (?:my|his|her|the) chest|chest (?:hurts|feels tight)"),
    ("breath_combo", "breathlessness", r"short(?:ness)? of breath|breathless|out of breath|hard to breathe|difficulty breathing|trouble breathing|can'?t catch (?:my|his|her) breath"),
    ("sweat_combo", "sweating", r"sweat(?:ing|y|s)|clammy|cold sweat|diaphore\w+"),
    ("radiate_combo", "pain spreading to arm or jaw", r"(?:arm|jaw|neck|back)\W+(?:\w+\W+){0,4}(?:pain|hurts|aches|numb)|(?:spreading|radiating|going) (?:down|to|into) (?:my|his|her|the) (?:left )?(?:arm|jaw)"),
    ("faint_combo", "fainting", r"faint(?:ed|ing)?|passed out|dizzy|light-?headed|nause\w+|vomit\w*"),
]
_COMBOS = {"cardiac_combo": ("breath_combo", "sweat_combo", "radiate_combo", "faint_combo")}
_COMBO_PARTS = {"breath_combo", "sweat_combo", "radiate_combo", "faint_combo"}

_SELF_HARM = re.compile(
    r"\b(kill(?:ing)? my ?self|end(?:ing)? (?:it all|my (?:own )?life)|take my (?:own )?life|suicid\w*|want(?:ed)? to die|"
    r"don'?t want to (?:live|be alive|wake up)|better off dead|no reason to live|not worth living|"
    r"(?<!in case i )(?<!in case you )(?:cut|cutting|hurt|hurting|harm|harming) (?:my ?self|myself)(?! (?:shaving|cooking|chopping|gardening|while|by accident|accidentally|at work|at the gym|lifting|playing|on (?:a|the|some)))|self[- ]harm\w*|overdose on purpose|jump(?:ing)? off (?:a|the) (?:bridge|building|roof|cliff)|hang(?:ing)? myself)"
)

_HARMFUL: list[tuple[str, str]] = [
    ("weapons or toxins", r"\b(synthesi[sz]e|make|making|produce|producing|manufactur\w+|create|cook|extract|culture|weaponi[sz]e|brew)\b\W+(?:\w+\W+){0,6}"
                          r"(ricin|sarin|vx|tabun|soman|nerve agent|novichok|anthrax|botulinum|toxin|chemical weapon|bio-?weapon|biological (?:weapon|warfare)|"
                          r"dimethylmercury|mustard gas|chlorine gas|explosive|bomb|meth(?:amphetamine)?|fentanyl|heroin|poison|pathogen)"),
    ("hurting someone", r"\b(lethal|fatal|deadly|killing) (?:dose|amount|quantity)\b\W+(?:\w+\W+){0,8}(?:kill|someone|somebody|person|him|her|my (?:wife|husband|partner|boss|mother|father|neighbou?r|\w+)|undetect|untrace|without)|"
                        r"\b(?:poison|kill|harm|hurt|sedate|drug)\b (?:my |someone|somebody|a person|him|her|them)\w*\W+(?:\w+\W+){0,8}(?:without|undetect|untrace|so (?:it|they|that)|look like|secretly|slowly)|"
                        r"\bhow (?:to|do i|can i|could i) (?:poison|kill|murder|suffocate|strangle) (?:someone|somebody|a person|people|him|her|them|my (?!\w*\s*(?:lice|weeds?|bacteria|germs|mould|mold|fleas|pain))|a (?:man|woman|child|baby))|"
                        r"\b(?:stop|kill|harm|hurt|poison)\w*\W+(?:\w+\W+){0,6}(?:undetect\w*|untrace\w*|without (?:it )?(?:being )?(?:detected|noticed|traced)|without leaving (?:marks|a trace))|\bundetectable (?:poison|way to kill)|\bmake it (?:look|seem) like an? (?:accident|natural)|"
                        r"\b(?:give|slip|put)\b\W+(?:\w+\W+){0,5}(?:in|into) (?:his|her|their|my \w+'?s?) (?:drink|food|coffee|tea)\b"),
    ("falsifying records", r"\b(falsif\w+|forge|forging|fake|faking|fabricat\w+|alter|doctor|backdat\w+|change)\b\W+(?:\w+\W+){0,5}"
                           r"(medical records?|prescriptions?|sick note|doctor'?s note|lab (?:results?|reports?)|chart|vaccin\w+ (?:card|record|certificate)|death certificate|insurance claim|test results?)"),
    ("illegal drugs", r"\b(buy|get|obtain|order|score|source|purchase)\b\W+(?:\w+\W+){0,6}(oxy\w*|opioids?|xanax|adderall|fentanyl|percocet|vicodin|morphine|ketamine|benzos?|steroids|controlled (?:drugs?|substances?))\W+(?:\w+\W+){0,6}"
                      r"(without (?:a )?(?:prescription|script|doctor)|illegal\w*|on the street|dark ?web|online without|no prescription)|"
                      r"\b(trick|fool|con|lie to) (?:a |my |the )?(?:doctor|pharmacist|gp)\W+(?:\w+\W+){0,6}(?:prescri\w+|opioid|oxy|xanax|adderall)"),
    ("violence or crime", r"\b(build|make|assemble|3d[- ]print)\b\W+(?:\w+\W+){0,3}(gun|firearm|pipe bomb|silencer|ghost gun)|\bhow to (?:hack|steal|launder|smuggle|stalk|kidnap|traffic)\b|"
                          r"\b(child (?:sexual|porn)|csam)\b"),
]

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|skip)\b\W+(?:\w+\W+){0,4}(?:previous|prior|above|earlier|preceding|all|any|your|the|system|safety)\W+(?:\w+\W+){0,2}"
    r"(?:instructions?|rules?|prompts?|directions?|guidelines?|guardrails?|constraints?|polic(?:y|ies)|messages?)|"
    r"\b(?:reveal|print|show|repeat|output|display|leak|dump|recite|spell out|tell me|give me|what (?:is|are)|share|write out|translate)\b\W+(?:\w+\W+){0,4}"
    r"(?:system prompt|hidden (?:prompt|instructions?)|initial (?:prompt|instructions?)|developer (?:message|prompt)|(?:your|the) secret (?:code|key|token|word|value)|secret (?:code|key|token)|canary|password|api key|confidential (?:instructions?|text)|instructions (?:you were|above))|"
    r"\byou are now\b|\bdeveloper mode\b|\bdo anything now\b|\bjailbr(?:eak|oken)\b|\bDAN\b|\bno (?:rules|restrictions|filters|limits) apply\b|"
    r"\b(?:new|updated|real|true) (?:instructions?|rules?|system prompt)\s*:|\bsystem (?:override|message|prompt)\s*:|"
    r"<\|?\s*(?:im_start|system|im_end|endoftext)|\[/?(?:inst|system)\]|###\s*(?:system|instruction)|"
    r"\bpretend (?:that )?(?:you|there) (?:have|has|are) no\b|\bact as (?:an? )?(?:unrestricted|unfiltered|evil)|\bfrom now on,? (?:you|ignore|always|only)",
    re.IGNORECASE,
)


@dataclass
class RuleHit:
    """One rule that fired: its category (e.g. "stroke") and a short human-readable reason."""

    category: str
    reason: str


def clauses(text: str) -> list[str]:
    """Split text into clauses: negation never reaches across them."""
    return [c.strip() for c in _CLAUSE_SPLIT.split(text.lower()) if c and c.strip()]


def _negated(clause: str, start: int) -> bool:
    before = clause[:start].split()[-5:]
    return bool(_NEGATORS.search(" ".join(before)))


def _asserted(pattern: str, parts: list[str]) -> bool:
    for clause in parts:
        for match in re.finditer(rf"\b(?:{pattern})", clause):
            if not _negated(clause, match.start()):
                return True
    return False


def framing(text: str) -> str:
    """How the message frames its symptoms: "acute", "past", "general" or "plain"."""
    low = text.lower()
    if _ACUTE.search(low):
        return "acute"
    if _PAST.search(low):
        return "past"
    if _GENERAL.search(low):
        return "general"
    return "plain"


_REASSURED = re.compile(
    r"\b(?:is|are|seems?|looks?|feels?|i'?m|am|he'?s|she'?s|they'?re|it'?s)\s+(?:\w+\s+)?(?:fine|ok|okay|well|normal|playing)\b|"
    r"\bno symptoms\b|\bspat (?:it|them) out\b|\b(?:eating|drinking|playing|breathing|acting|behaving|running around)(?: \w+)? (?:fine|normally|normal|ok|okay|well)\b|"
    r"\ball good\b|\b(?:came|come) out\b|\bpassed (?:it|in (?:his|her|their|the) (?:poo|stool|nappy|diaper))\b|\bit(?:'ll| will) pass\b|\bwill it pass\b"
)
# The catch-all ingestion flag ("my toddler ate some ...") is for something swallowed now, not yesterday.
_INGESTION_PAST = re.compile(r"\b(?:yesterday|last night|(?:a |two |three |a couple (?:of )?|few )?days ago|last week)\b")


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


_PET = re.compile(r"^\W*(?:\w+\W+){0,3}(?:my|our|the|a) (?:dog|cat|puppy|kitten|pup|rabbit|hamster|guinea pig|horse|pony|parrot|budgie|bird|ferret|"
                  r"labrador|spaniel|terrier|collie|retriever|poodle|pet)s?\b", re.I)
_PERSON = re.compile(r"\b(?:i|i'?m|me|my (?!dog|cat|puppy|kitten|pet)\w+|son|daughter|child|kid|baby|toddler|husband|wife|partner|mum|mom|dad)\b", re.I)


def _about_a_pet(sentence: str) -> bool:
    return bool(_PET.search(sentence)) and not _PERSON.search(_PET.sub(" ", sentence))


def _current(sentences: list[str]) -> list[str]:
    """The sentences whose symptoms are framed as happening now.

    A sentence's own framing decides ("right now" counts, "years ago" or "what are the signs of"
    does not), so an acute word in another sentence of a long message ("he's on a pump now") does
    not make an old or hypothetical event current; a sentence with none takes the message's framing.
    """
    rest = framing(" ".join(sentences))
    own = [(s, framing(s)) for s in sentences if not _about_a_pet(s)]
    return [s for s, f in own if (f if f != "plain" else rest) in ("acute", "plain")]


def red_flags(text: str) -> list[RuleHit]:
    """Emergency red flags asserted in `text` now (negated, past and hypothetical ones dropped)."""
    current = _current([s for s in _SENTENCE.split(text) if s.strip()])
    if not current:
        return []
    parts = [c for s in current for c in clauses(s)]
    found: dict[str, str] = {}
    for cat, reason, pat in _RED_FLAGS:  # the first matching rule of a category gives its reason
        if cat not in found and _asserted(pat, parts):
            found[cat] = reason
    low = " ".join(current).lower()
    if "ingestion" in found and ("overdose" in found or _REASSURED.search(low) or _INGESTION_PAST.search(low)):
        del found["ingestion"]
    hits = [RuleHit(cat, reason) for cat, reason in found.items() if not cat.endswith("_combo")]
    for lead, partners in _COMBOS.items():
        with_ = [found[p] for p in partners if p in found]
        if lead in found and with_:
            hits.append(RuleHit("cardiac", f"{found[lead]} with {' and '.join(with_)}"))
    return hits


# Harm turned on oneself ("poison myself"), unless the message says it was an accident.
_SELF_INFLICTED = re.compile(r"\b(?:poison\w*|overdos\w*|starv\w*|suffocat\w*|strangl\w*|gas|gassing|(?:drown|shoot)\w*) (?:my ?self|myself)\b(?! in\b)")
_ACCIDENT = re.compile(r"\b(?:accident\w*|by mistake|mistakenly|without realising|without realizing)\b")


# A clause about the past ("I self-harmed as a teenager"), about someone else ("a friend told me
# they're self-harming") or about the topic ("a suicide prevention policy") is not the writer's risk
# now; the classifier still sees the message. Words that name the writer ("kill myself", "end my
# life") count whoever else the clause mentions.
_PAST_CLAUSE = re.compile(r"\b(?:years? ago|months? ago|in the past|used to|when i was|if i(?:'ve| have)? ever|as a (?:teen\w*|kid|child|student)|history of|"
                          r"went through|previously|recovered|in recovery|no longer|back in|last year|a long time ago)\b")
_TOPIC = re.compile(r"\b(?:polic\w+|prevention|risk assessments?|awareness|training|course|degree|lecture|essay|research\w*|"
                    r"crisis plans?|safety plans?|first responders?|statistics|rates?|screening|questionnaires?|myths?|posters?|"
                    r"support groups?|helplines?|novel|story|character|screenplay|media guidelines)\b")
_OTHER_PERSON = re.compile(r"\b(?:he|she|they|they'?re|him|her|them|his|their|someone|somebody|a friend|people|"
                           r"my (?:friend|son|daughter|child|kid|teen\w*|brother|sister|partner|wife|husband|mum|mom|dad|father|mother|"
                           r"student|patient|client|pupil|colleague|cousin|nephew|niece|grand\w+)s?|colleagues?|patients?|students?|clients?|teens?|teenagers?|"
                           r"callers?|celebrit\w+|(?:my|our) \d+[- ]year[- ]old|our (?:son|daughter|child|kid|teen\w*))\b")
_NAMES_WRITER = re.compile(r"my ?self|my (?:own )?life|\bmy |\bi\b|\bi'?m\b")


def _writer_now(clause: str, match: re.Match[str], imminent: bool) -> bool:
    if _negated(clause, match.start()) or _PAST_CLAUSE.search(clause):
        return False
    if _NAMES_WRITER.search(clause[max(0, match.start() - 3):match.end()]) or imminent:
        return True
    return not (_OTHER_PERSON.search(clause) or _TOPIC.search(clause))


def self_harm(text: str) -> bool:
    """True when the message expresses the writer's suicidal intent or self-harm now.

    Not when negated, only in the past, only about someone else or the topic (unless there is a plan or means).
    """
    low = text.lower()
    imminent = bool(_IMMINENT.search(low))
    parts = [p for c in clauses(text) for p in re.split(r",|\band\b|\bso\b", c)]
    found = any(_writer_now(p, m, imminent) for p in parts for m in _SELF_HARM.finditer(p))
    inflicted = not _ACCIDENT.search(low) and any(_writer_now(p, m, imminent) for p in parts for m in _SELF_INFLICTED.finditer(p))
    if not (found or inflicted):
        return False
    return framing(text) != "general" or bool(re.search(r"\b(i|i'?m|i am|myself|my ?self)\b", low))


def self_directed(text: str) -> bool:
    """True when the harm a message asks about is aimed at the writer ("poison myself", "for me to die").

    Used to route a request the classifier calls harmful to crisis resources instead of a refusal.
    """
    low = text.lower()
    return bool(re.search(r"\b(?:myself|my ?self|my own life|kill me|me to die|i (?:could |can |would )?die|(?:i|me) (?:don'?t|won'?t|never) wake up)\b", low))


_METHOD = re.compile(r"\b(how (?:to|do i|can i|could i|would i|many|much)|instructions?|ways? to|methods?|best way|painless|lethal|what dose|tips|guide|steps?|"
                     r"(?:can|could|should|would) i (?:use|take|buy|mix)|(?:what|which) (?:\w+ ){0,3}(?:would|could|will|works?|kills?))\b")
# A plan, the means at hand, a time, or an act already done: the risk is now, not only thoughts.
_IMMINENT = re.compile(
    r"\b(?:tonight|right now|today|this (?:morning|evening|afternoon|weekend)|about to|(?:going|gonna|plan(?:ning)?) to (?:do it|end|kill|take|jump|hang|overdose|cut)|"
    r"(?:have|has|got|bought|saved|collected|holding) (?:\w+ ){0,3}(?:pills|tablets|rope|gun|knife|blade|razor|ligature)|"
    r"(?:took|taken|swallowed|drank) |(?:goodbye|suicide) (?:note|letter)s?|written (?:\w+ ){0,2}(?:notes?|letters?)|plan(?:ned)?|said (?:my )?goodbyes?)\b"
)


def self_harm_method(text: str) -> bool:
    """True when a self-harm message asks for means or methods (answered with crisis resources only)."""
    return bool(_METHOD.search(text.lower()))


def self_harm_imminent(text: str) -> bool:
    """True when a self-harm message shows a plan, means, a time or an act already done (or a red flag)."""
    return bool(_IMMINENT.search(text.lower())) or self_harm_method(text) or bool(red_flags(text))


# A question about reporting, spotting or checking forged records is the defender's side.
_DEFENSIVE = re.compile(r"\b(?:how (?:do|can|should) (?:i|we) report|report(?:ing|ed)? (?:it|this|them|a|an|the|someone|him|her)|"
                        r"(?:are|is|get|gets|r) (?:\w+ ){0,3}(?:detected|spotted|caught|verified)|what happens (?:legally )?(?:if|when)|how (?:to|do (?:i|you|we)|can (?:i|you|we)) "
                        r"(?:spot|detect|verify|recogni[sz]e|tell if)|what should i do as (?:a|an|the) \w+)\b")


def harmful(text: str) -> list[RuleHit]:
    """Requests to cause harm: weapons/toxins, hurting someone, falsifying records, illegal drugs."""
    low = text.lower()
    hits = [RuleHit("harmful", reason) for reason, pat in _HARMFUL if re.search(pat, low)]
    if _DEFENSIVE.search(low):
        hits = [h for h in hits if h.reason != "falsifying records"]
    return hits


def injection(text: str) -> bool:
    """True when `text` tries to override the assistant's instructions or extract its secrets."""
    return bool(_INJECTION.search(text))


def injection_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text` that carry an injection attempt."""
    spans = []
    for match in re.finditer(r"[^.!?\n]+[.!?]?", text):
        if _INJECTION.search(match.group()):
            spans.append((match.start(), match.end()))
    return spans
