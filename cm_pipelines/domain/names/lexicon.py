"""Bundled word lists for the name recogniser: given names and surnames of the tenants' cultures
(Anglo, Chinese in pinyin and Cantonese/Hokkien romanisation, Malay, Indian, Vietnamese, Arabic),
honorifics, patronymic particles, cue phrases and capitalised words that are not names.

Plain data, lower-cased; a list here is a recall lever, so adding a name is always safe, while
adding a word to ``NOT_NAMES`` trades recall for precision and needs a corpus run.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.lower().split())


GIVEN_NAMES = _words(
    """
    aaron adam aidan alex alice amelia amy andrew angela anita anna anne ava ben benjamin beth
    brian bronwyn caroline charlotte chloe chris christopher claire connor daniel david deborah
    emily emma ethan fiona george greg gregory hannah harold harry helen hugh isabella jack jacob
    james jane jason jennifer jessica john josh joshua julia karen kate kevin laura liam lily
    lucy luke margaret mary matthew megan michael mia michelle natalie nathan nicholas noah
    olivia oliver paul peter rachel rebecca richard robert ryan samuel sarah scott sean simon
    sophie stephen steven susan thomas tom william winston zara zoe leila laila
    mateo sofia lucas isla nina hiro kai maria jose carlos luis ana elena marco luca giulia
    anna sara hana yuki kenji haruto sakura david ivan olga peter jan eva lena max felix
        wei ling hui min jia jun hao xiu ying boon keat chong kah seng kin wah siew mei xiao li
    ming yang zhi hong yan jie kai fang lan bao chau
    ahmad ahmed aisha aminah amir ali abdul abdullah anwar aziz bakar faisal faizal farah fatimah
    hamid hamad hassan hussain ibrahim ismail khalid mohammed mohamed muhammad mohd nadia noor
    nur nurul omar rania rashid razak salma saleh siti tariq yusof yusuf zainab zulkifli huda
    rosnah aina nurhaliza
    anita arjun deepa devi gopal kavitha kumar lakshmi meera muthu priya rajesh ravi sanjay
    shanthi suresh
    anh bao duc dung hoa hung lan linh mai minh quoc thanh thao trang tung tuan van thi
    """
)
SURNAMES = _words(
    """
    smith jones williams brown taylor wilson johnson white martin anderson thompson harrison
    jenkins clarke evans brooks fitzgerald hart o'brien walker wright green hall king baker
    doe murphy o'neill garcia rodriguez martinez lopez rossi fischer novak kowalski okafor
    d'souza schmidt muller silva santos kelly ryan roberts campbell stewart morris cooper
        chen chan chua goh lee lim liu loh lau ng ong tan teo wong wu xu zhang zhou huang wang yeo
    khoo koh tay chong
    rahman ismail hassan hussain aziz haddad farsi rashid omar saleh khalid
    iyer kaur krishnan kumar menon nair patel pillai ramasamy shankar subramaniam desai gupta
    chandran fernandes muthu singh
    nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly dinh
    """
)
HONORIFICS = _words(
    """
    mr mrs ms miss mx mdm madam dr prof sir dame master encik puan cik tuan haji hajah hj
    dato datuk datin tan-sri sri ustaz ustazah sheikh shaikh sayyid auntie aunty uncle sister
    brother father pastor imam
    """
)
PARTICLES = _words("bin binti bte bt binte ibn bint abu al al- a/l a/p s/o d/o van der de la")
"""Words inside a name (patronymics, articles) that are lower-case or short by convention."""

CUE_BEFORE = (
    "my partner",
    "my wife",
    "my husband",
    "my son",
    "my daughter",
    "my mother",
    "my mum",
    "my father",
    "my dad",
    "my brother",
    "my sister",
    "my friend",
    "my mate",
    "my flatmate",
    "my neighbour",
    "my cousin",
    "my uncle",
    "my aunt",
    "my carer",
    "my colleague",
    "my lawyer",
    "my landlord",
    "my accountant",
    "my ex-husband",
    "my ex-wife",
    "his wife",
    "her husband",
    "his lawyer",
    "his son",
    "her son",
    "brother-in-law",
    "sister-in-law",
    "speak to",
    "speak with",
    "talk to",
    "ask for",
    "ask",
    "tell",
    "call",
    "phone",
    "ring",
    "contact",
    "message for",
    "note for",
    "behalf of",
    "helped by",
    "transfer me to",
    "transferred to",
    "through to",
    "name is",
    "named",
    "this is",
    "it's",
    "spoke to",
    "let",
    "with",
    "from",
    "dear",
    "follow up with",
    "signed by",
    "raised by",
    "account holder",
    "team leader",
    "manager",
    "technician",
    "contractor",
    "driver",
)
"""Words after which a capitalised word is a person (``my partner Zara``, ``ask for Kevin``)."""
CUE_AFTER = ("called", "said", "asked", "rang", "wants", "will", "is", "and", "from", "confirmed")
"""Words after which a capitalised word that starts a sentence is likely a person."""

NOT_NAMES = _words(
    """
    a an the i i'm i've i'd i'll it it's is this that these those yes no ok okay sure hi hello
    hey thanks thank please good morning afternoon evening goodbye bye dear sorry great fine
    we our you your he she they his her my me us them there here what when where which who how
    can could will would may might should shall must do does did have has had be been was were
    and or but if then so because also just not all any some next last first new
    monday tuesday wednesday thursday friday saturday sunday january february march april june
    july august september october november december christmas easter year happy holiday
    summary note action reminder contact follow-up followup ai caller customer receptionist refund
    account plan premium business unlimited sales support reception team office manager
    sydney melbourne brisbane perth adelaide hobart launceston auckland singapore penang hanoi
    kuala lumpur dubai manila shenzhen hong kong orchard road street
    marina bay rose bondi kensington parramatta frankston geelong westfield new zealand
    telstra optus vodafone singtel viettel netflix spotify google maps microsoft teams apple pay
    visa mastercard iphone samsung galaxy huawei jb hi-fi bank water plus sms pin sim email
    trading engineering plumbing legal it
    """
)
"""Capitalised words that are not people: greetings, days, places, brands of the corpus's
tenants' regions, note headings. Only consulted for words not attached to a strong cue."""
