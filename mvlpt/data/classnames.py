"""Published class-name tables (label order) for the CoOp sources, the ImageNet variants and ELEVATER.

* ``COOP_CLASSNAMES[name]``: names as CoOp stores them in its split files (underscores kept;
  trainers replace ``_`` with a space before tokenizing).
* ``ELEVATER_CLASSNAMES[task]``: MVLPT's ``prompts.class_map`` (first synonym where a class has
  several, as MVLPT does).
* ``PUBLISHED_NUM_CLASSES``: the published class counts, checked by the tests.

Readers take the names from the files on disk (split JSON / classnames.txt / labelmap); these
tables are the reference used for checks, zero-shot heads and the dataset docs.
"""
from ._car_names import _CARS_META, _E_CARS
from ._imagenet_names import IMAGENET_CLASSNAMES

__all__ = ["COOP_CLASSNAMES", "ELEVATER_CLASSNAMES", "ELEVATER_SYNONYMS", "PUBLISHED_NUM_CLASSES",
           "IMAGENET_A_INDICES", "IMAGENET_R_WNIDS", "get_classnames"]


def _s(text, sep="|"):
    return [t.strip() for t in text.strip().split(sep) if t.strip()]


_CALTECH101 = _s("""face|leopard|motorbike|accordion|airplane|anchor|ant|barrel|bass|beaver|binocular|bonsai|brain|
brontosaurus|buddha|butterfly|camera|cannon|car_side|ceiling_fan|cellphone|chair|chandelier|cougar_body|cougar_face|
crab|crayfish|crocodile|crocodile_head|cup|dalmatian|dollar_bill|dolphin|dragonfly|electric_guitar|elephant|emu|
euphonium|ewer|ferry|flamingo|flamingo_head|garfield|gerenuk|gramophone|grand_piano|hawksbill|headphone|hedgehog|
helicopter|ibis|inline_skate|joshua_tree|kangaroo|ketch|lamp|laptop|llama|lobster|lotus|mandolin|mayfly|menorah|
metronome|minaret|nautilus|octopus|okapi|pagoda|panda|pigeon|pizza|platypus|pyramid|revolver|rhino|rooster|saxophone|
schooner|scissors|scorpion|sea_horse|snoopy|soccer_ball|stapler|starfish|stegosaurus|stop_sign|strawberry|sunflower|
tick|trilobite|umbrella|watch|water_lilly|wheelchair|wild_cat|windsor_chair|wrench|yin_yang""")

_PETS_TITLE = _s("""Abyssinian|American Bulldog|American Pit Bull Terrier|Basset Hound|Beagle|Bengal|Birman|Bombay|Boxer|
British Shorthair|Chihuahua|Egyptian Mau|English Cocker Spaniel|English Setter|German Shorthaired|Great Pyrenees|
Havanese|Japanese Chin|Keeshond|Leonberger|Maine Coon|Miniature Pinscher|Newfoundland|Persian|Pomeranian|Pug|Ragdoll|
Russian Blue|Saint Bernard|Samoyed|Scottish Terrier|Shiba Inu|Siamese|Sphynx|Staffordshire Bull Terrier|
Wheaten Terrier|Yorkshire Terrier""")
_OXFORD_PETS = [n.lower().replace(" ", "_") for n in _PETS_TITLE]

# cars_meta.mat order ("<make model> <year>"); CoOp moves the year to the front.

_STANFORD_CARS = [" ".join([n.split(" ")[-1]] + n.split(" ")[:-1]) for n in _CARS_META]

_FLOWERS = _s("""pink primrose|hard-leaved pocket orchid|canterbury bells|sweet pea|english marigold|tiger lily|
moon orchid|bird of paradise|monkshood|globe thistle|snapdragon|colt's foot|king protea|spear thistle|yellow iris|
globe-flower|purple coneflower|peruvian lily|balloon flower|giant white arum lily|fire lily|pincushion flower|
fritillary|red ginger|grape hyacinth|corn poppy|prince of wales feathers|stemless gentian|artichoke|sweet william|
carnation|garden phlox|love in the mist|mexican aster|alpine sea holly|ruby-lipped cattleya|cape flower|
great masterwort|siam tulip|lenten rose|barbeton daisy|daffodil|sword lily|poinsettia|bolero deep blue|wallflower|
marigold|buttercup|oxeye daisy|common dandelion|petunia|wild pansy|primula|sunflower|pelargonium|bishop of llandaff|
gaura|geranium|orange dahlia|pink-yellow dahlia|cautleya spicata|japanese anemone|black-eyed susan|silverbush|
californian poppy|osteospermum|spring crocus|bearded iris|windflower|tree poppy|gazania|azalea|water lily|rose|
thorn apple|morning glory|passion flower|lotus lotus|toad lily|anthurium|frangipani|clematis|hibiscus|columbine|
desert-rose|tree mallow|magnolia|cyclamen|watercress|canna lily|hippeastrum|bee balm|ball moss|foxglove|
bougainvillea|camellia|mallow|mexican petunia|bromelia|blanket flower|trumpet creeper|blackberry lily""")

_FOOD101 = """apple_pie baby_back_ribs baklava beef_carpaccio beef_tartare beet_salad beignets bibimbap bread_pudding
breakfast_burrito bruschetta caesar_salad cannoli caprese_salad carrot_cake ceviche cheese_plate cheesecake
chicken_curry chicken_quesadilla chicken_wings chocolate_cake chocolate_mousse churros clam_chowder club_sandwich
crab_cakes creme_brulee croque_madame cup_cakes deviled_eggs donuts dumplings edamame eggs_benedict escargots falafel
filet_mignon fish_and_chips foie_gras french_fries french_onion_soup french_toast fried_calamari fried_rice
frozen_yogurt garlic_bread gnocchi greek_salad grilled_cheese_sandwich grilled_salmon guacamole gyoza hamburger
hot_and_sour_soup hot_dog huevos_rancheros hummus ice_cream lasagna lobster_bisque lobster_roll_sandwich
macaroni_and_cheese macarons miso_soup mussels nachos omelette onion_rings oysters pad_thai paella pancakes
panna_cotta peking_duck pho pizza pork_chop poutine prime_rib pulled_pork_sandwich ramen ravioli red_velvet_cake
risotto samosa sashimi scallops seaweed_salad shrimp_and_grits spaghetti_bolognese spaghetti_carbonara spring_rolls
steak strawberry_shortcake sushi tacos takoyaki tiramisu tuna_tartare waffles""".split()

_AIRCRAFT = _s("""707-320|727-200|737-200|737-300|737-400|737-500|737-600|737-700|737-800|737-900|747-100|747-200|
747-300|747-400|757-200|757-300|767-200|767-300|767-400|777-200|777-300|A300B4|A310|A318|A319|A320|A321|A330-200|
A330-300|A340-200|A340-300|A340-500|A340-600|A380|ATR-42|ATR-72|An-12|BAE 146-200|BAE 146-300|BAE-125|
Beechcraft 1900|Boeing 717|C-130|C-47|CRJ-200|CRJ-700|CRJ-900|Cessna 172|Cessna 208|Cessna 525|Cessna 560|
Challenger 600|DC-10|DC-3|DC-6|DC-8|DC-9-30|DH-82|DHC-1|DHC-6|DHC-8-100|DHC-8-300|DR-400|Dornier 328|E-170|E-190|
E-195|EMB-120|ERJ 135|ERJ 145|Embraer Legacy 600|Eurofighter Typhoon|F-16A/B|F/A-18|Falcon 2000|Falcon 900|
Fokker 100|Fokker 50|Fokker 70|Global Express|Gulfstream IV|Gulfstream V|Hawk T1|Il-76|L-1011|MD-11|MD-80|MD-87|
MD-90|Metroliner|Model B200|PA-28|SR-20|Saab 2000|Saab 340|Spitfire|Tornado|Tu-134|Tu-154|Yak-42""")

_SUN397 = _s("""abbey|airplane_cabin|airport_terminal|alley|amphitheater|amusement_arcade|amusement_park|anechoic_chamber|
outdoor apartment_building|indoor apse|aquarium|aqueduct|arch|archive|outdoor arrival_gate|art_gallery|art_school|
art_studio|assembly_line|outdoor athletic_field|public atrium|attic|auditorium|auto_factory|badlands|
indoor badminton_court|baggage_claim|shop bakery|exterior balcony|interior balcony|ball_pit|ballroom|bamboo_forest|
banquet_hall|bar|barn|barndoor|baseball_field|basement|basilica|outdoor basketball_court|bathroom|batters_box|bayou|
indoor bazaar|outdoor bazaar|beach|beauty_salon|bedroom|berth|biology_laboratory|indoor bistro|boardwalk|boat_deck|
boathouse|bookstore|indoor booth|botanical_garden|indoor bow_window|outdoor bow_window|bowling_alley|boxing_ring|
indoor brewery|bridge|building_facade|bullring|burial_chamber|bus_interior|butchers_shop|butte|outdoor cabin|
cafeteria|campsite|campus|natural canal|urban canal|candy_store|canyon|backseat car_interior|frontseat car_interior|
carrousel|indoor casino|castle|catacomb|indoor cathedral|outdoor cathedral|indoor cavern|cemetery|chalet|
cheese_factory|chemistry_lab|indoor chicken_coop|outdoor chicken_coop|childs_room|indoor church|outdoor church|
classroom|clean_room|cliff|indoor cloister|closet|clothing_store|coast|cockpit|coffee_shop|computer_room|
conference_center|conference_room|construction_site|control_room|outdoor control_tower|corn_field|corral|corridor|
cottage_garden|courthouse|courtroom|courtyard|exterior covered_bridge|creek|crevasse|crosswalk|office cubicle|dam|
delicatessen|dentists_office|sand desert|vegetation desert|indoor diner|outdoor diner|home dinette|vehicle dinette|
dining_car|dining_room|discotheque|dock|outdoor doorway|dorm_room|driveway|outdoor driving_range|drugstore|
electrical_substation|door elevator|interior elevator|elevator_shaft|engine_room|indoor escalator|excavation|
indoor factory|fairway|fastfood_restaurant|cultivated field|wild field|fire_escape|fire_station|indoor firing_range|
fishpond|indoor florist_shop|food_court|broadleaf forest|needleleaf forest|forest_path|forest_road|formal_garden|
fountain|galley|game_room|indoor garage|garbage_dump|gas_station|exterior gazebo|indoor general_store|
outdoor general_store|gift_shop|golf_course|indoor greenhouse|outdoor greenhouse|indoor gymnasium|indoor hangar|
outdoor hangar|harbor|hayfield|heliport|herb_garden|highway|hill|home_office|hospital|hospital_room|hot_spring|
outdoor hot_tub|outdoor hotel|hotel_room|house|outdoor hunting_lodge|ice_cream_parlor|ice_floe|ice_shelf|
indoor ice_skating_rink|outdoor ice_skating_rink|iceberg|igloo|industrial_area|outdoor inn|islet|indoor jacuzzi|
indoor jail|jail_cell|jewelry_shop|kasbah|indoor kennel|outdoor kennel|kindergarden_classroom|kitchen|kitchenette|
outdoor labyrinth|natural lake|landfill|landing_deck|laundromat|lecture_room|indoor library|outdoor library|
outdoor lido_deck|lift_bridge|lighthouse|limousine_interior|living_room|lobby|lock_chamber|locker_room|mansion|
manufactured_home|indoor market|outdoor market|marsh|martial_arts_gym|mausoleum|medina|water moat|outdoor monastery|
indoor mosque|outdoor mosque|motel|mountain|mountain_snowy|indoor movie_theater|indoor museum|music_store|
music_studio|outdoor nuclear_power_plant|nursery|oast_house|outdoor observatory|ocean|office|office_building|
outdoor oil_refinery|oilrig|operating_room|orchard|outdoor outhouse|pagoda|palace|pantry|park|indoor parking_garage|
outdoor parking_garage|parking_lot|parlor|pasture|patio|pavilion|pharmacy|phone_booth|physics_laboratory|
picnic_area|indoor pilothouse|outdoor planetarium|playground|playroom|plaza|indoor podium|outdoor podium|pond|
establishment poolroom|home poolroom|outdoor power_plant|promenade_deck|indoor pub|pulpit|putting_green|racecourse|
raceway|raft|railroad_track|rainforest|reception|recreation_room|residential_neighborhood|restaurant|
restaurant_kitchen|restaurant_patio|rice_paddy|riding_arena|river|rock_arch|rope_bridge|ruin|runway|sandbar|sandbox|
sauna|schoolhouse|sea_cliff|server_room|shed|shoe_shop|shopfront|indoor shopping_mall|shower|skatepark|ski_lodge|
ski_resort|ski_slope|sky|skyscraper|slum|snowfield|squash_court|stable|baseball stadium|football stadium|
indoor stage|staircase|street|subway_interior|platform subway_station|supermarket|sushi_bar|swamp|
indoor swimming_pool|outdoor swimming_pool|indoor synagogue|outdoor synagogue|television_studio|east_asia temple|
south_asia temple|indoor tennis_court|outdoor tennis_court|outdoor tent|indoor_procenium theater|
indoor_seats theater|thriftshop|throne_room|ticket_booth|toll_plaza|topiary_garden|tower|toyshop|outdoor track|
train_railway|platform train_station|tree_farm|tree_house|trench|coral_reef underwater|utility_room|valley|
van_interior|vegetable_garden|veranda|veterinarians_office|viaduct|videostore|village|vineyard|volcano|
indoor volleyball_court|outdoor volleyball_court|waiting_room|indoor warehouse|water_tower|block waterfall|
fan waterfall|plunge waterfall|watering_hole|wave|wet_bar|wheat_field|wind_farm|windmill|barrel_storage wine_cellar|
bottle_storage wine_cellar|indoor wrestling_ring|yard|youth_hostel""")

_DTD = """banded blotchy braided bubbly bumpy chequered cobwebbed cracked crosshatched crystalline dotted fibrous
flecked freckled frilly gauzy grid grooved honeycombed interlaced knitted lacelike lined marbled matted meshed
paisley perforated pitted pleated polka-dotted porous potholed scaly smeared spiralled sprinkled stained stratified
striped studded swirly veined waffled woven wrinkled zigzagged""".split()

_EUROSAT = _s("""Annual Crop Land|Forest|Herbaceous Vegetation Land|Highway or Road|Industrial Buildings|Pasture Land|
Permanent Crop Land|Residential Buildings|River|Sea or Lake""")
#: EuroSAT folder -> CoOp class name
EUROSAT_NEW_CNAMES = dict(zip(["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
                               "PermanentCrop", "Residential", "River", "SeaLake"], _EUROSAT))

_UCF_SPACED = _s("""Apply Eye Makeup|Apply Lipstick|Archery|Baby Crawling|Balance Beam|Band Marching|Baseball Pitch|
Basketball|Basketball Dunk|Bench Press|Biking|Billiards|Blow Dry Hair|Blowing Candles|Body Weight Squats|Bowling|
Boxing Punching Bag|Boxing Speed Bag|Breast Stroke|Brushing Teeth|Clean And Jerk|Cliff Diving|Cricket Bowling|
Cricket Shot|Cutting In Kitchen|Diving|Drumming|Fencing|Field Hockey Penalty|Floor Gymnastics|Frisbee Catch|
Front Crawl|Golf Swing|Haircut|Hammer Throw|Hammering|Handstand Pushups|Handstand Walking|Head Massage|High Jump|
Horse Race|Horse Riding|Hula Hoop|Ice Dancing|Javelin Throw|Juggling Balls|Jump Rope|Jumping Jack|Kayaking|Knitting|
Long Jump|Lunges|Military Parade|Mixing|Mopping Floor|Nunchucks|Parallel Bars|Pizza Tossing|Playing Cello|
Playing Daf|Playing Dhol|Playing Flute|Playing Guitar|Playing Piano|Playing Sitar|Playing Tabla|Playing Violin|
Pole Vault|Pommel Horse|Pull Ups|Punch|Push Ups|Rafting|Rock Climbing Indoor|Rope Climbing|Rowing|Salsa Spin|
Shaving Beard|Shotput|Skate Boarding|Skiing|Skijet|Sky Diving|Soccer Juggling|Soccer Penalty|Still Rings|
Sumo Wrestling|Surfing|Swing|Table Tennis Shot|Tai Chi|Tennis Swing|Throw Discus|Trampoline Jumping|Typing|
Uneven Bars|Volleyball Spiking|Walking With Dog|Wall Pushups|Writing On Board|Yo Yo""")
_UCF101 = [n.replace(" ", "_") for n in _UCF_SPACED]

#: ImageNet-A's 200 classes as indices into the ImageNet-1k label order.
IMAGENET_A_INDICES = [int(x) for x in """6 11 13 15 17 22 23 27 30 37 39 42 47 50 57 70 71 76 79 89 90 94 96 97 99 105 107
108 110 113 124 125 130 132 143 144 150 151 207 234 235 254 277 283 287 291 295 298 301 306 307 308 309 310 311 313
314 315 317 319 323 324 326 327 330 334 335 336 347 361 363 372 378 386 397 400 401 402 404 407 411 416 417 420 425
428 430 437 438 445 456 457 461 462 470 472 483 486 488 492 496 514 516 528 530 539 542 543 549 552 557 561 562 569
572 573 575 579 589 606 607 609 614 626 627 640 641 642 643 658 668 677 682 684 687 701 704 719 736 746 749 752 758
763 765 768 773 774 776 779 780 786 792 797 802 803 804 813 815 820 823 831 833 835 839 845 847 850 859 862 870 879
880 888 890 897 900 907 913 924 932 933 934 937 943 945 947 951 954 956 957 959 971 972 980 981 984 986 987
988""".split()]

#: ImageNet-R's 200 wnids (sorted); names are looked up in classnames.txt.
IMAGENET_R_WNIDS = sorted("""n01443537 n01484850 n01494475 n01498041 n01514859 n01518878 n01531178 n01534433 n01614925
n01616318 n01630670 n01632777 n01644373 n01677366 n01694178 n01748264 n01770393 n01774750 n01784675 n01806143
n01820546 n01833805 n01843383 n01847000 n01855672 n01860187 n01882714 n01910747 n01944390 n01983481 n01986214
n02007558 n02009912 n02051845 n02056570 n02066245 n02071294 n02077923 n02085620 n02086240 n02088094 n02088238
n02088364 n02088466 n02091032 n02091134 n02092339 n02094433 n02096585 n02097298 n02098286 n02099601 n02099712
n02102318 n02106030 n02106166 n02106550 n02106662 n02108089 n02108915 n02109525 n02110185 n02110341 n02110958
n02112018 n02112137 n02113023 n02113624 n02113799 n02114367 n02117135 n02119022 n02123045 n02128385 n02128757
n02129165 n02129604 n02130308 n02134084 n02138441 n02165456 n02190166 n02206856 n02219486 n02226429 n02233338
n02236044 n02268443 n02279972 n02317335 n02325366 n02346627 n02356798 n02363005 n02364673 n02391049 n02395406
n02398521 n02410509 n02423022 n02437616 n02445715 n02447366 n02480495 n02480855 n02481823 n02483362 n02486410
n02510455 n02526121 n02607072 n02655020 n02672831 n02701002 n02749479 n02769748 n02793495 n02797295 n02802426
n02808440 n02814860 n02823750 n02841315 n02843684 n02883205 n02906734 n02909870 n02939185 n02948072 n02950826
n02951358 n02966193 n02980441 n02992529 n03124170 n03272010 n03345487 n03372029 n03424325 n03452741 n03467068
n03481172 n03494278 n03495258 n03498962 n03594945 n03602883 n03630383 n03649909 n03676483 n03710193 n03773504
n03775071 n03888257 n03930630 n03947888 n04086273 n04118538 n04133789 n04141076 n04146614 n04147183 n04192698
n04254680 n04266014 n04275548 n04310018 n04325704 n04347754 n04389033 n04409515 n04465501 n04487394 n04522168
n04536866 n04552348 n04591713 n07614500 n07693725 n07695742 n07697313 n07697537 n07714571 n07714990 n07718472
n07720875 n07734744 n07742313 n07745940 n07749582 n07753275 n07753592 n07768694 n07873807 n07880968 n07920052
n09472597 n09835506 n10565667 n12267677""".split())

COOP_CLASSNAMES = {
    "ImageNet": list(IMAGENET_CLASSNAMES),
    "Caltech101": _CALTECH101,
    "OxfordPets": _OXFORD_PETS,
    "StanfordCars": _STANFORD_CARS,
    "OxfordFlowers": _FLOWERS,
    "Food101": _FOOD101,
    "FGVCAircraft": _AIRCRAFT,
    "SUN397": _SUN397,
    "DescribableTextures": _DTD,
    "EuroSAT": _EUROSAT,
    "UCF101": _UCF101,
    "ImageNetV2": list(IMAGENET_CLASSNAMES),
    "ImageNetSketch": list(IMAGENET_CLASSNAMES),
    "ImageNetA": [IMAGENET_CLASSNAMES[i] for i in IMAGENET_A_INDICES],
    "ImageNetR": list(IMAGENET_R_WNIDS),  # wnids; names come from classnames.txt
}
COOP_CLASSNAMES["DTD"] = COOP_CLASSNAMES["DescribableTextures"]

# ---------------------------------------------------------------------------------------------
# ELEVATER (MVLPT prompts.class_map)
# ---------------------------------------------------------------------------------------------
_E_CALTECH = _s("""accordion|airplane|anchor|ant|background|barrel|bass|beaver|binocular|bonsai|brain|brontosaurus|buddha|
butterfly|camera|cannon|side of a car|ceiling fan|cellphone|chair|chandelier|body of a cougar cat|face of a cougar cat|
crab|crayfish|crocodile|head of a  crocodile|cup|dalmatian|dollar bill|dolphin|dragonfly|electric guitar|elephant|emu|
euphonium|ewer|centered face|off-center face|ferry|flamingo|head of a flamingo|garfield|gerenuk|gramophone|
grand piano|hawksbill|headphone|hedgehog|helicopter|ibis|inline skate|joshua tree|kangaroo|ketch|lamp|laptop|leopard|
llama|lobster|lotus|mandolin|mayfly|menorah|metronome|minaret|motorbike|nautilus|octopus|okapi|pagoda|panda|pigeon|
pizza|platypus|pyramid|revolver|rhino|rooster|saxophone|schooner|scissors|scorpion|sea horse|snoopy (cartoon beagle)|
soccer ball|stapler|starfish|stegosaurus|stop sign|strawberry|sunflower|tick|trilobite|umbrella|watch|water lilly|
wheelchair|wild cat|windsor chair|wrench|yin and yang symbol""")
_E_CIFAR10 = "airplane automobile bird cat deer dog frog horse ship truck".split()
_E_CIFAR100 = _s("""chimpanzee|trout|skunk|spider|chair|tank|keyboard|man|whale|lobster|house|beetle|bear|shrew|bottle|cup|
bus|orange|sea|oak tree|bed|tulip|rabbit|skyscraper|apple|maple tree|pine tree|snail|pear|bridge|train|mountain|
caterpillar|crocodile|snake|kangaroo|dolphin|cattle|raccoon|mushroom|hamster|bowl|lamp|rocket|pickup truck|wolf|worm|
otter|sunflower|leopard|ray|lawn mower|motorcycle|boy|fox|palm tree|cloud|dinosaur|turtle|forest|couch|poppy|rose|bee|
girl|clock|can|table|road|orchid|streetcar|squirrel|crab|butterfly|tractor|beaver|willow tree|camel|plain|mouse|
elephant|flatfish|sweet pepper|plate|television|aquarium fish|wardrobe|seal|lizard|cockroach|porcupine|woman|possum|
baby|tiger|telephone|shark|lion|castle|bicycle""")
_E_COUNTRY211 = _s("""Andorra|United Arab Emirates|Afghanistan|Antigua and Barbuda|Anguilla|Albania|Armenia|Angola|Antarctica|
Argentina|Austria|Australia|Aruba|Aland Islands|Azerbaijan|Bosnia and Herzegovina|Barbados|Bangladesh|Belgium|
Burkina Faso|Bulgaria|Bahrain|Benin|Bermuda|Brunei Darussalam|Bolivia|Bonaire, Saint Eustatius and Saba|Brazil|
Bahamas|Bhutan|Botswana|Belarus|Belize|Canada|DR Congo|Central African Republic|Switzerland|Cote d'Ivoire|
Cook Islands|Chile|Cameroon|China|Colombia|Costa Rica|Cuba|Cabo Verde|Curacao|Cyprus|Czech Republic|Germany|Denmark|
Dominica|Dominican Republic|Algeria|Ecuador|Estonia|Egypt|Spain|Ethiopia|Finland|Fiji|Falkland Islands|
Faeroe Islands|France|Gabon|United Kingdom|Grenada|Georgia|French Guiana|Guernsey|Ghana|Gibraltar|Greenland|Gambia|
Guadeloupe|Greece|South Georgia and South Sandwich Is.|Guatemala|Guam|Guyana|Hong Kong|Honduras|Croatia|Haiti|
Hungary|Indonesia|Ireland|Israel|Isle of Man|India|Iraq|Iran|Iceland|Italy|Jersey|Jamaica|Jordan|Japan|Kenya|
Kyrgyz Republic|Cambodia|St. Kitts and Nevis|North Korea|South Korea|Kuwait|Cayman Islands|Kazakhstan|Laos|Lebanon|
St. Lucia|Liechtenstein|Sri Lanka|Liberia|Lithuania|Luxembourg|Latvia|Libya|Morocco|Monaco|Moldova|Montenegro|
Saint-Martin|Madagascar|Macedonia|Mali|Myanmar|Mongolia|Macau|Martinique|Mauritania|Malta|Mauritius|Maldives|Malawi|
Mexico|Malaysia|Mozambique|Namibia|New Caledonia|Nigeria|Nicaragua|Netherlands|Norway|Nepal|New Zealand|Oman|Panama|
Peru|French Polynesia|Papua New Guinea|Philippines|Pakistan|Poland|Puerto Rico|Palestine|Portugal|Palau|Paraguay|
Qatar|Reunion|Romania|Serbia|Russia|Rwanda|Saudi Arabia|Solomon Islands|Seychelles|Sudan|Sweden|Singapore|
St. Helena|Slovenia|Svalbard and Jan Mayen Islands|Slovakia|Sierra Leone|San Marino|Senegal|Somalia|South Sudan|
El Salvador|Sint Maarten|Syria|Eswatini|Togo|Thailand|Tajikistan|Timor-Leste|Turkmenistan|Tunisia|Tonga|Turkey|
Trinidad and Tobago|Taiwan|Tanzania|Ukraine|Uganda|United States|Uruguay|Uzbekistan|Vatican|Venezuela|
British Virgin Islands|United States Virgin Islands|Vietnam|Vanuatu|Samoa|Kosovo|Yemen|South Africa|Zambia|Zimbabwe""")
_E_EUROSAT = _s("""annual crop land|forest|brushland or shrubland|highway or road|industrial buildings or commercial buildings|
pasture land|permanent crop land|residential buildings or homes or apartments|river|lake or sea""")
_E_AIRCRAFT = _s("""707-320|727-200|737-200|737-300|737-400|737-500|737-600|737-700|737-800|737-900|747-100|747-200|747-300|
747-400|757-200|757-300|767-200|767-300|767-400|777-200|777-300|A300B4|A310|A318|A319|A320|A321|A330-200|A330-300|
A340-200|A340-300|A340-500|A340-600|A380|An-12|ATR-42|ATR-72|BAE 146-200|BAE 146-300|BAE-125|Beechcraft 1900|
Boeing 717|C-130|C-47|Cessna 172|Cessna 208|Cessna 525|Cessna 560|Challenger 600|CRJ-200|CRJ-700|CRJ-900|DC-10|DC-3|
DC-6|DC-8|DC-9-30|DH-82|DHC-1|DHC-6|DHC-8-100|DHC-8-300|Dornier 328|DR-400|E-170|E-190|E-195|EMB-120|
Embraer Legacy 600|ERJ 135|ERJ 145|Eurofighter Typhoon|F-16A-B|F-A-18|Falcon 2000|Falcon 900|Fokker 100|Fokker 50|
Fokker 70|Global Express|Gulfstream IV|Gulfstream V|Hawk T1|Il-76|L-1011|MD-11|MD-80|MD-87|MD-90|Metroliner|
Model B200|PA-28|Saab 2000|Saab 340|Spitfire|SR-20|Tornado|Tu-134|Tu-154|Yak-42""")
ELEVATER_SYNONYMS = {"fer-2013": [["angry"], ["disgusted"], ["fearful"], ["happy", "smiling"], ["neutral", "bored"],
                                  ["sad", "depressed"], ["surprised", "shocked", "spooked"]]}
_E_FLOWERS = [{"globe-flower": "globe flower", "pink-yellow dahlia": "pink and yellow dahlia", "lotus lotus": "lotus",
               "ball moss": "air plant"}.get(n, n) for n in _FLOWERS]
_E_FOOD = [n.replace("_", " ") for n in _FOOD101]
_E_FOOD[16], _E_FOOD[17] = _E_FOOD[17], _E_FOOD[16]  # ELEVATER lists 'cheesecake' before 'cheese plate'
_E_GTSRB = _s("""red and white circle 20 kph speed limit|red and white circle 30 kph speed limit|
red and white circle 50 kph speed limit|red and white circle 60 kph speed limit|red and white circle 70 kph speed limit|
red and white circle 80 kph speed limit|end / de-restriction of 80 kph speed limit|
red and white circle 100 kph speed limit|red and white circle 120 kph speed limit|
red and white circle red car and black car no passing|red and white circle red truck and black car no passing|
red and white triangle road intersection warning|white and yellow diamond priority road|
red and white upside down triangle yield right-of-way|stop|empty red and white circle|
red and white circle no truck entry|red circle with white horizonal stripe no entry|
red and white triangle with exclamation mark warning|red and white triangle with black left curve approaching warning|
red and white triangle with black right curve approaching warning|
red and white triangle with black double curve approaching warning|red and white triangle rough / bumpy road warning|
red and white triangle car skidding / slipping warning|red and white triangle with merging / narrow lanes warning|
red and white triangle with person digging / construction / road work warning|
red and white triangle with traffic light approaching warning|red and white triangle with person walking warning|
red and white triangle with child and person walking warning|red and white triangle with bicyle warning|
red and white triangle with snowflake / ice warning|red and white triangle with deer warning|
white circle with gray strike bar no speed limit|blue circle with white right turn arrow mandatory|
blue circle with white left turn arrow mandatory|blue circle with white forward arrow mandatory|
blue circle with white forward or right turn arrow mandatory|blue circle with white forward or left turn arrow mandatory|
blue circle with white keep right arrow mandatory|blue circle with white keep left arrow mandatory|
blue circle with white arrows indicating a traffic circle|
white circle with gray strike bar indicating no passing for cars has ended|
white circle with gray strike bar indicating no passing for trucks has ended""")
_E_KITTI = ["a photo i took of a car on my left or right side.", "a photo i took with a car nearby.",
            "a photo i took with a car in the distance.", "a photo i took with no car."]
_E_PETS = [n if n[0].isupper() and n.split()[0] in {"Abyssinian", "Bengal", "Birman", "Bombay", "British", "Egyptian",
                                                     "Maine", "Persian", "Ragdoll", "Russian", "Siamese", "Sphynx"}
           else n.lower() for n in _PETS_TITLE]
_E_VOC = ("aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person pottedplant "
          "sheep sofa train tvmonitor").split()
_E_RESISC = _s("""airplane|airport|baseball diamond|basketball court|beach|bridge|chaparral|church|circular farmland|cloud|
commercial area|dense residential|desert|forest|freeway|golf course|ground track field|harbor|industrial area|
intersection|island|lake|meadow|medium residential|mobile home park|mountain|overpass|palace|parking lot|railway|
railway station|rectangular farmland|river|roundabout|runway|sea ice|ship|snowberg|sparse residential|stadium|
storage tank|tennis court|terrace|thermal power station|wetland""")


ELEVATER_CLASSNAMES = {
    "hateful-memes": ["meme", "hatespeech meme"],
    "cifar-10": _E_CIFAR10,
    "mnist": [str(i) for i in range(10)],
    "oxford-flower-102": _E_FLOWERS,
    "oxford-iiit-pets": _E_PETS,
    "resisc45_clip": _E_RESISC,
    "country211": _E_COUNTRY211,
    "food-101": _E_FOOD,
    "stanford-cars": _E_CARS,
    "caltech-101": _E_CALTECH,
    "dtd": list(_DTD),
    "voc-2007-classification": _E_VOC,
    "cifar-100": _E_CIFAR100,
    "fgvc-aircraft-2013b-variants102": _E_AIRCRAFT,
    "patch-camelyon": ["lymph node", "lymph node containing metastatic tumor tissue"],
    "rendered-sst2": ["negative", "positive"],
    "gtsrb": _E_GTSRB,
    "eurosat_clip": _E_EUROSAT,
    "fer-2013": [s[0] for s in ELEVATER_SYNONYMS["fer-2013"]],
    "kitti-distance": _E_KITTI,
}

PUBLISHED_NUM_CLASSES = {
    "ImageNet": 1000, "Caltech101": 100, "OxfordPets": 37, "StanfordCars": 196, "OxfordFlowers": 102, "Food101": 101,
    "FGVCAircraft": 100, "SUN397": 397, "DescribableTextures": 47, "EuroSAT": 10, "UCF101": 101,
    "ImageNetV2": 1000, "ImageNetSketch": 1000, "ImageNetA": 200, "ImageNetR": 200,
    "hateful-memes": 2, "cifar-10": 10, "mnist": 10, "oxford-flower-102": 102, "oxford-iiit-pets": 37,
    "resisc45_clip": 45, "country211": 211, "food-101": 101, "stanford-cars": 196, "caltech-101": 102, "dtd": 47,
    "voc-2007-classification": 20, "cifar-100": 100, "fgvc-aircraft-2013b-variants102": 100, "patch-camelyon": 2,
    "rendered-sst2": 2, "gtsrb": 43, "eurosat_clip": 10, "fer-2013": 7, "kitti-distance": 4,
}


def get_classnames(name):
    """Class names of a CoOp dataset or ELEVATER task from the shipped tables."""
    if name in COOP_CLASSNAMES:
        return list(COOP_CLASSNAMES[name])
    if name in ELEVATER_CLASSNAMES:
        return list(ELEVATER_CLASSNAMES[name])
    raise KeyError(f"no class-name table for {name!r}")
