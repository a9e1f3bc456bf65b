"""Deterministic generator of cycle-extract records (statement accounts).

The output follows the "Cycle extract" section of ``formats.md``: JSON Lines, UTF-8, one account per
line, keys in the documented order, amounts as decimal strings in the account currency.

Everything is a pure function of ``(count, seed, cycle_end)``:

* one ``random.Random(seed)`` drives the good records, and only its ``random()`` method is used
  (the one method whose sequence Python guarantees across versions), so the bytes are stable;
* records are produced one at a time (constant memory, whatever ``count`` is);
* deliberately invalid records (``bad > 0``) replace good ones at fixed positions and are built from
  a second, separately seeded generator, so the good records around them are identical to the ones
  a ``bad=0`` extract holds at the same line numbers.

Command line: ``python -m stmtprod.generate OUT.jsonl --count 300 --seed 2026 --bad 10``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterator

from stmtprod.fsutil import atomic_open

__all__ = [
    "BAD_KINDS",
    "CURRENCY",
    "DEFAULT_CYCLE_END",
    "MINOR_UNIT",
    "REGIONS",
    "bad_plan",
    "extract_lines",
    "generate_accounts",
    "write_extract",
]

DEFAULT_CYCLE_END = date(2026, 11, 20)
PERIOD_DAYS = 30  # period_start = cycle_end - 30 days
DUE_DAYS = 20  # due_date = cycle_end + 20 days

REGIONS = ("AU", "NZ", "JP", "MY", "ID", "SG", "HK")
CURRENCY = {"AU": "AUD", "NZ": "NZD", "JP": "JPY", "MY": "MYR", "ID": "IDR", "SG": "SGD", "HK": "HKD"}
#: Smallest unit that may be written for each currency (JPY and IDR: whole numbers only).
MINOR_UNIT = {
    "AUD": Decimal("0.01"),
    "NZD": Decimal("0.01"),
    "JPY": Decimal("1"),
    "MYR": Decimal("0.01"),
    "IDR": Decimal("1"),
    "SGD": Decimal("0.01"),
    "HKD": Decimal("0.01"),
}

#: Kinds of deliberately invalid records, in the order they are cycled through.
BAD_KINDS = (
    "balance_mismatch",  # new_balance off by one minor unit
    "float_amount",  # new_balance written as a JSON number
    "country_mismatch",  # address.country is another market (same postcode shape)
    "unknown_region",  # region "XX" (account id prefix and country follow it)
    "jpy_decimals",  # a JPY transaction amount "1200.50" (new_balance carries the .50 too)
    "missing_name",  # required field `name` absent
    "invalid_json",  # the line is truncated JSON text
    "bad_postcode",  # postcode of the wrong shape for the region
    "bad_date",  # due_date "YYYY-02-30"
    "currency_mismatch",  # currency "USD"
)

# Region a bad record of each kind is built for, cycled by occurrence (bad > 10 repeats kinds).
_BAD_REGIONS = {
    "balance_mismatch": ("AU", "JP", "HK", "MY", "ID", "SG", "NZ"),
    "float_amount": ("SG", "AU", "HK", "MY", "NZ", "JP", "ID"),
    "country_mismatch": ("NZ", "MY", "AU", "ID"),
    "unknown_region": ("MY", "AU", "SG", "NZ"),
    "jpy_decimals": ("JP",),
    "missing_name": ("ID", "AU", "JP", "HK", "MY", "SG", "NZ"),
    "invalid_json": ("HK", "JP", "AU", "MY", "ID", "SG", "NZ"),
    "bad_postcode": ("JP", "AU", "SG", "MY", "ID", "NZ"),
    "bad_date": ("MY", "HK", "JP", "AU", "ID", "SG", "NZ"),
    "currency_mismatch": ("AU", "NZ", "JP", "MY", "ID", "SG", "HK"),
}
# Markets whose postcodes have the same shape, so that only the country is wrong.
_COUNTRY_SWAP = {"NZ": "AU", "AU": "NZ", "MY": "ID", "ID": "MY"}

# --------------------------------------------------------------------------------------------
# Market data
# --------------------------------------------------------------------------------------------

# Cumulative region mix: JP 30%, AU 20%, HK 12%, MY 10%, ID 10%, SG 10%, NZ 8%.
_REGION_CUM = (
    (0.30, "JP"),
    (0.50, "AU"),
    (0.62, "HK"),
    (0.72, "MY"),
    (0.82, "ID"),
    (0.92, "SG"),
    (1.00, "NZ"),
)
_PRODUCT_CUM = ((0.45, "classic"), (0.75, "gold"), (0.90, "platinum"), (1.00, "business"))
_SEGMENTS = ("travel", "dining", "shopping", "new_member", "premium", "student", "online")
_SEGMENT_COUNT_CUM = ((0.30, 0), (0.65, 1), (0.90, 2), (1.00, 3))

# Money is computed in integer minor units (cents; yen and rupiah themselves), and random sizes use
# only + - * / on floats (exactly rounded IEEE operations, no libm), so the bytes are the same on
# every platform.
_MINOR_PER_UNIT = {"AUD": 100, "NZD": 100, "JPY": 1, "MYR": 100, "IDR": 1, "SGD": 100, "HKD": 100}
# Local minor units per Australian-dollar-equivalent, and the step purchase prices are rounded to.
_FACTOR = {"AU": 100, "NZ": 110, "SG": 90, "HK": 500, "MY": 300, "JP": 100, "ID": 10000}
_PRICE_STEP = {"AU": 1, "NZ": 1, "SG": 1, "HK": 10, "MY": 1, "JP": 1, "ID": 100}
# Monthly interest on a carried balance, in hundredths of a percent.
_MONTHLY_RATE_BP = {"AU": 166, "NZ": 175, "SG": 225, "HK": 290, "MY": 125, "JP": 125, "ID": 175}
_MIN_DUE_PERCENT = 3
# Minimum repayment floor (local minor units), capped at the new balance.
_MIN_DUE_FLOOR = {"AU": 2500, "NZ": 2000, "SG": 5000, "HK": 5000, "MY": 5000, "JP": 1000, "ID": 50000}
_ANNUAL_FEE_AUD = {"classic": 49, "gold": 149, "platinum": 395, "business": 199}
_POINTS_PERCENT = {"classic": 100, "gold": 125, "platinum": 200, "business": 150}

# Purchase size bands in AUD-equivalent, by merchant category, and how often each category occurs.
_BANDS = {"s": (2.5, 35.0), "m": (20.0, 260.0), "l": (150.0, 1800.0)}
_CATEGORY_CUM = ((0.62, "s"), (0.94, "m"), (1.00, "l"))


def _merchants(spec: str) -> dict[str, tuple[str, ...]]:
    """'cat|NAME' lines -> {category: (names...)}."""
    out: dict[str, list[str]] = {"s": [], "m": [], "l": []}
    for line in spec.strip().splitlines():
        cat, name = line.strip().split("|", 1)
        out[cat].append(name)
    return {cat: tuple(names) for cat, names in out.items()}


_MERCHANTS = {
    "JP": _merchants(
        """
        s|セブン-イレブン 渋谷道玄坂店
        s|ファミリーマート 虎ノ門店
        s|ローソン 梅田駅前店
        s|STARBUCKS SHIBUYA
        s|すき家 新宿西口店
        s|ドトールコーヒー 神谷町
        s|モバイルSuica チャージ
        s|マツモトキヨシ 池袋東口店
        s|吉野家 有楽町店
        m|ユニクロ 銀座店
        m|無印良品 有楽町
        m|AMAZON.CO.JP
        m|楽天市場
        m|イオン 幕張新都心
        m|ENEOS 横浜みなとみらいSS
        m|東京電力エナジーパートナー
        m|NTTドコモ ご利用料金
        m|ヨドバシカメラ マルチメディア梅田
        m|JR東日本 えきねっと
        l|ANA 羽田空港
        l|JAL 国内線
        l|高島屋 日本橋店
        l|ビックカメラ 有楽町店
        l|じゃらんnet
        """
    ),
    "HK": _merchants(
        """
        s|百佳超級市場 太古城
        s|惠康 旺角
        s|美心西餅
        s|大家樂 銅鑼灣
        s|港鐵 八達通自動增值
        s|屈臣氏 沙田
        s|萬寧 中環
        s|太興燒味餐廳
        s|吉野家 尖沙咀
        s|7-ELEVEN 灣仔
        m|HKTVmall
        m|一田百貨 沙田
        m|中華電力有限公司
        m|香港寬頻 HKBN
        m|AEON 康怡
        m|UNIQLO 時代廣場
        l|國泰航空 CATHAY PACIFIC
        l|豐澤電器 旺角
        l|崇光百貨 SOGO 銅鑼灣
        l|APPLE STORE IFC
        """
    ),
    "AU": _merchants(
        """
        s|WOOLWORTHS METRO SYDNEY
        s|COLES EXPRESS PARRAMATTA
        s|MCDONALD'S BONDI
        s|UBER *TRIP
        s|OPAL TRAVEL TOP UP
        s|GLORIA JEAN'S COFFEES
        s|7-ELEVEN MELBOURNE
        s|CHEMIST WAREHOUSE
        m|WOOLWORTHS 1234 SYDNEY
        m|COLES 0456 BRISBANE
        m|BUNNINGS WAREHOUSE
        m|AMAZON AU MARKETPLACE
        m|KMART AUSTRALIA
        m|BP CONNECT
        m|TELSTRA PREPAID
        m|AGL ENERGY
        m|DAN MURPHY'S
        l|QANTAS AIRWAYS
        l|VIRGIN AUSTRALIA
        l|JB HI-FI
        l|MYER MELBOURNE
        l|HARVEY NORMAN
        """
    ),
    "NZ": _merchants(
        """
        s|COUNTDOWN PONSONBY
        s|NEW WORLD THORNDON
        s|UBER EATS
        s|SNAPPER TRANSPORT CARD
        s|BURGER FUEL
        s|COFFEE CULTURE
        m|PAK'NSAVE ALBANY
        m|THE WAREHOUSE
        m|Z ENERGY
        m|SPARK NZ
        m|MITRE 10 MEGA
        m|FARMERS
        m|CONTACT ENERGY
        l|AIR NEW ZEALAND
        l|NOEL LEEMING
        l|HARVEY NORMAN NZ
        l|INTERISLANDER FERRY
        """
    ),
    "MY": _merchants(
        """
        s|GRAB* RIDE KUALA LUMPUR
        s|OLDTOWN WHITE COFFEE
        s|MCDONALD'S SS2
        s|TOUCH 'N GO RELOAD
        s|99 SPEEDMART
        s|MAMAK NASI KANDAR PELITA
        s|GUARDIAN PHARMACY
        m|LOTUS'S PUCHONG
        m|AEON BIG
        m|SHOPEE MY
        m|PETRONAS DENGKIL
        m|SHELL JALAN TUN RAZAK
        m|TNB BIL ELEKTRIK
        m|UNIFI TM
        m|MR DIY
        m|WATSONS SUNWAY PYRAMID
        l|AIRASIA BERHAD
        l|MALAYSIA AIRLINES
        l|SENHENG ELECTRIC
        l|PARKSON PAVILION
        """
    ),
    "ID": _merchants(
        """
        s|INDOMARET JAKARTA SELATAN
        s|ALFAMART BANDUNG
        s|GOJEK GO-RIDE
        s|GRAB* FOOD
        s|KOPI KENANGAN
        s|J.CO DONUTS & COFFEE
        s|KFC SUDIRMAN
        m|TOKOPEDIA
        m|SHOPEE ID
        m|PERTAMINA SPBU 31.128.02
        m|PLN PRABAYAR
        m|TELKOMSEL
        m|HYPERMART
        m|MATAHARI DEPT STORE
        m|TRANSMART CARREFOUR
        l|GARUDA INDONESIA
        l|TRAVELOKA
        l|ELECTRONIC CITY
        l|LION AIR
        """
    ),
    "SG": _merchants(
        """
        s|NTUC FAIRPRICE
        s|YA KUN KAYA TOAST
        s|TOA PAYOH HAWKER CENTRE
        s|GRAB* RIDE
        s|TRANSIT LINK SIMPLYGO
        s|KOUFU FOOD COURT
        s|GUARDIAN HEALTH & BEAUTY
        m|COLD STORAGE
        m|SHENG SIONG
        m|SHOPEE SG
        m|LAZADA SG
        m|SP SERVICES
        m|SINGTEL
        m|CHALLENGER
        l|SINGAPORE AIRLINES
        l|COURTS MEGASTORE
        l|BEST DENKI
        l|TAKASHIMAYA ORCHARD
        """
    ),
}
_REFUND_PREFIX = {"JP": "返品 ", "HK": "退款 "}

# ---- names -----------------------------------------------------------------------------------

_JP_FAMILY = (
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 "
    "斎藤 清水 山崎 森 池田 橋本 阿部 石川 前田 藤田 小川 岡田"
).split()
_JP_GIVEN = (
    "太郎 花子 翔太 陽菜 大輔 美咲 健一 由美 直樹 さくら 拓也 愛 裕子 誠 結衣 蓮 恵子 浩二 明美 "
    "悠真 陽斗 芽依 一郎 智子 和也 真由美 隆 千尋 大翔 葵"
).split()
# (Chinese, romanised) pairs for Hong Kong.
_HK_FAMILY = (
    ("陳", "Chan"),
    ("李", "Lee"),
    ("張", "Cheung"),
    ("黃", "Wong"),
    ("何", "Ho"),
    ("林", "Lam"),
    ("梁", "Leung"),
    ("吳", "Ng"),
    ("劉", "Lau"),
    ("蔡", "Choi"),
    ("鄭", "Cheng"),
    ("謝", "Tse"),
    ("郭", "Kwok"),
    ("羅", "Law"),
    ("麥", "Mak"),
)
_HK_GIVEN = (
    ("大文", "Tai Man"),
    ("嘉欣", "Ka Yan"),
    ("志強", "Chi Keung"),
    ("美玲", "Mei Ling"),
    ("家豪", "Ka Ho"),
    ("詠詩", "Wing Sze"),
    ("俊傑", "Chun Kit"),
    ("曉彤", "Hiu Tung"),
    ("偉明", "Wai Ming"),
    ("淑儀", "Suk Yee"),
    ("子軒", "Tsz Hin"),
    ("穎思", "Wing Sze"),
    ("國榮", "Kwok Wing"),
    ("麗珊", "Lai Shan"),
)
_HK_WESTERN = "Peter Mary Michael Karen Kelvin Winnie Ivan Gloria Raymond Queenie Jason Cherry".split()
_EN_FIRST = (
    "Jane John Olivia Jack Charlotte William Amelia Noah Mia Oliver Grace Thomas Chloe Lachlan Isla "
    "James Ruby Liam Sophie Cooper Emily Harrison Zoe Matthew"
).split()
_EN_LAST = (
    "Citizen Smith Jones Williams Brown Wilson Taylor Nguyen Johnson Martin White Anderson Walker "
    "Thompson Kelly Ryan O'Connor MacDonald Patel Chen Murphy Campbell Stewart Harris"
).split()
_NZ_MAORI_FIRST = "Aroha Wiremu Mere Tāne Hēmi Ngaio Rāwiri Kiri Manaia Hinemoa".split()
_NZ_MAORI_LAST = ("Ngata", "Te Whare", "Parata", "Tuhiwai", "Walker", "Te Kanawa", "Horomona", "Pōmare")
_MY_MALE = ("Ahmad", "Muhammad Faiz", "Mohd Azlan", "Syed Hakim", "Amirul", "Hafiz", "Khairul Anuar")
_MY_FEMALE = ("Nur Aisyah", "Siti Nurhaliza", "Nurul Izzah", "Farah", "Aminah", "Nor Azlina")
_MY_FATHER = ("Ismail", "Hassan", "Abdullah", "Rahman", "Yusof", "Ibrahim", "Osman", "Hamzah")
_CN_LATIN_FAMILY = ("Tan", "Lim", "Lee", "Ng", "Ong", "Wong", "Goh", "Chua", "Koh", "Teo", "Chong")
_CN_LATIN_GIVEN = (
    "Wei Ming",
    "Mei Ling",
    "Kah Wai",
    "Siew Lan",
    "Chong Wei",
    "Hui Min",
    "Jun Jie",
    "Xiu Ling",
    "Zhi Hao",
    "Kai Xuan",
    "Shu Fen",
)
_IN_MALE = ("Rajesh", "Muthu", "Arjun", "Suresh", "Ganesh", "Vijay")
_IN_FEMALE = ("Priya", "Kavitha", "Lakshmi", "Devi", "Anitha", "Meena")
_IN_FATHER = ("Subramaniam", "Krishnan", "Velu", "Raman", "Ramasamy", "Muniandy")
_ID_GIVEN = ("Budi Siti Agus Dewi Eko Rina Muhammad Putri Andi Sri Yusuf Indah Hendra Fitri Dian Rudi").split()
_ID_FAMILY = (
    "Santoso Rahayu Setiawan Lestari Prasetyo Wulandari Rizki Hidayat Saputra Kurniawan Susanti Nugroho Siregar Wijaya"
).split()
_ID_SINGLE = ("Sutrisno", "Mulyadi", "Suparman", "Suharti", "Wagiman")
# Names that break naive markup: & < > ' " (about 1 record in 200).
_MARKUP_NAMES = {
    "JP": ("株式会社<山田&佐藤>", "O'Brien & Sons <Ltd>"),
    "HK": ("陳 & 李 <有限公司>", "O'Brien & Sons <Ltd>"),
    "_": (
        "O'Brien & Sons <Ltd>",
        'Smith & Jones "Trading" <Pty> Ltd',
        "D'Arcy & Co <Holdings>",
        "Tan & Lee <Pte.> Ltd",
    ),
}

# ---- addresses ------------------------------------------------------------------------------

# (prefecture, city, postcode prefix, towns)
_JP_PLACES = (
    ("東京都", "港区", "105", ("虎ノ門", "芝公園", "赤坂", "六本木", "浜松町")),
    ("東京都", "渋谷区", "150", ("道玄坂", "恵比寿", "神宮前", "代々木")),
    ("東京都", "新宿区", "160", ("西新宿", "四谷", "高田馬場")),
    ("東京都", "世田谷区", "154", ("三軒茶屋", "太子堂", "下馬")),
    ("大阪府", "大阪市北区", "530", ("梅田", "中之島", "天神橋")),
    ("神奈川県", "横浜市西区", "220", ("みなとみらい", "高島", "北幸")),
    ("愛知県", "名古屋市中区", "460", ("栄", "錦", "丸の内")),
    ("北海道", "札幌市中央区", "060", ("北一条西", "大通西", "南三条西")),
    ("福岡県", "福岡市博多区", "812", ("博多駅前", "中洲", "住吉")),
    ("京都府", "京都市中京区", "604", ("烏丸通", "河原町", "二条")),
    ("兵庫県", "神戸市中央区", "650", ("三宮町", "元町通", "北野町")),
    ("宮城県", "仙台市青葉区", "980", ("一番町", "国分町", "中央")),
    ("広島県", "広島市中区", "730", ("紙屋町", "八丁堀", "本通")),
    ("沖縄県", "那覇市", "900", ("久茂地", "牧志", "おもろまち")),
)
_JP_BUILDINGS = (
    "神谷町トラストタワー",
    "パークハウス",
    "グランドメゾン",
    "コーポ山田",
    "ハイツ桜",
    "ライオンズマンション",
    "プラウド",
    "サンシャインレジデンス",
)
_JP_CARE_OF = ("山田商事株式会社内", "田中様方", "株式会社みらい総研 経理部")

# (Chinese district, English district, Chinese street, English street, estates zh/en)
_HK_PLACES = (
    ("中環", "Central", "皇后大道中", "Queen's Road Central", ("中環中心", "The Center")),
    ("灣仔", "Wan Chai", "軒尼詩道", "Hennessy Road", ("合和中心", "Hopewell Centre")),
    ("銅鑼灣", "Causeway Bay", "怡和街", "Yee Wo Street", ("百德新街大廈", "Paterson Building")),
    ("尖沙咀", "Tsim Sha Tsui", "彌敦道", "Nathan Road", ("重慶大廈", "Chungking Mansions")),
    ("旺角", "Mong Kok", "亞皆老街", "Argyle Street", ("朗豪坊", "Langham Place")),
    ("沙田", "Sha Tin", "沙田正街", "Sha Tin Centre Street", ("沙田第一城", "City One Shatin")),
    ("觀塘", "Kwun Tong", "觀塘道", "Kwun Tong Road", ("麗港城", "Laguna City")),
    ("荃灣", "Tsuen Wan", "青山公路", "Castle Peak Road", ("綠楊新邨", "Luk Yeung Sun Chuen")),
    ("將軍澳", "Tseung Kwan O", "唐德街", "Tong Tak Street", ("新都城", "Metro City")),
    ("北角", "North Point", "英皇道", "King's Road", ("城市花園", "City Garden")),
    ("薄扶林", "Pok Fu Lam", "華富道", "Wah Fu Road", ("華富邨", "Wah Fu Estate")),
    ("深水埗", "Sham Shui Po", "石硤尾街", "Shek Kip Mei Street", ("石硤尾邨", "Shek Kip Mei Estate")),
)
# (suburb, state, postcode)
_AU_PLACES = (
    ("Sydney", "NSW", "2000"),
    ("Parramatta", "NSW", "2150"),
    ("Bondi Beach", "NSW", "2026"),
    ("Newcastle", "NSW", "2300"),
    ("Melbourne", "VIC", "3000"),
    ("Richmond", "VIC", "3121"),
    ("Geelong", "VIC", "3220"),
    ("Brisbane City", "QLD", "4000"),
    ("Surfers Paradise", "QLD", "4217"),
    ("Cairns", "QLD", "4870"),
    ("Perth", "WA", "6000"),
    ("Fremantle", "WA", "6160"),
    ("Adelaide", "SA", "5000"),
    ("Glenelg", "SA", "5045"),
    ("Hobart", "TAS", "7000"),
    ("Launceston", "TAS", "7250"),
    ("Canberra", "ACT", "2601"),
    ("Belconnen", "ACT", "2617"),
    ("Darwin", "NT", "0800"),
    ("Alice Springs", "NT", "0870"),
)
_AU_STREETS = (
    "George Street",
    "Martin Place",
    "Collins Street",
    "Queen Street",
    "Hay Street",
    "King William Street",
    "Elizabeth Street",
    "Smith Street",
    "Church Street",
    "Beach Road",
    "Pacific Highway",
    "Macquarie Street",
)
_NZ_PLACES = (
    ("Auckland", "1010", ("Ponsonby", "Parnell", "Grey Lynn", "Mount Eden")),
    ("Wellington", "6011", ("Thorndon", "Kelburn", "Te Aro")),
    ("Christchurch", "8011", ("Riccarton", "Merivale", "Sydenham")),
    ("Hamilton", "3204", ("Hamilton East", "Claudelands")),
    ("Dunedin", "9016", ("Roslyn", "Mornington")),
    ("Tauranga", "3110", ("Mount Maunganui", "Otumoetai")),
    ("Palmerston North", "4410", ("Hokowhitu", "Terrace End")),
    ("Queenstown", "9300", ("Frankton", "Fernhill")),
    ("Nelson", "7010", ("Stoke", "The Wood")),
    ("Rotorua", "3010", ("Ngongotahā", "Glenholme")),
)
_NZ_STREETS = (
    "Queen Street",
    "Ponsonby Road",
    "Lambton Quay",
    "Cuba Street",
    "Colombo Street",
    "Te Awa Road",
    "Whakatū Drive",
    "Victoria Avenue",
    "Great South Road",
    "Karangahape Road",
)
# (city, state, postcode)
_MY_PLACES = (
    ("Kuala Lumpur", "Kuala Lumpur", "50450"),
    ("Kuala Lumpur", "Kuala Lumpur", "55100"),
    ("Petaling Jaya", "Selangor", "46000"),
    ("Petaling Jaya", "Selangor", "47301"),
    ("Shah Alam", "Selangor", "40000"),
    ("Subang Jaya", "Selangor", "47500"),
    ("Puchong", "Selangor", "47100"),
    ("George Town", "Pulau Pinang", "10200"),
    ("Johor Bahru", "Johor", "80000"),
    ("Ipoh", "Perak", "30000"),
    ("Kota Kinabalu", "Sabah", "88000"),
    ("Kuching", "Sarawak", "93000"),
    ("Melaka", "Melaka", "75000"),
    ("Putrajaya", "Putrajaya", "62000"),
)
_MY_STREETS = (
    "Jalan SS 2/24",
    "Jalan Ampang",
    "Jalan Tun Razak",
    "Jalan Bukit Bintang",
    "Lorong Maarof",
    "Jalan Puteri 2/4",
    "Persiaran Gurney",
    "Jalan Sultan Ismail",
)
_MY_TAMAN = ("Taman Bukit Indah", "Taman Tun Dr Ismail", "Bandar Sunway", "Taman Melawati", "Desa Sri Hartamas")
_ID_PLACES = (
    ("Jakarta Selatan", "DKI Jakarta", "12190"),
    ("Jakarta Pusat", "DKI Jakarta", "10310"),
    ("Jakarta Barat", "DKI Jakarta", "11470"),
    ("Bandung", "Jawa Barat", "40115"),
    ("Bekasi", "Jawa Barat", "17141"),
    ("Bogor", "Jawa Barat", "16151"),
    ("Surabaya", "Jawa Timur", "60271"),
    ("Semarang", "Jawa Tengah", "50132"),
    ("Yogyakarta", "DI Yogyakarta", "55211"),
    ("Denpasar", "Bali", "80113"),
    ("Medan", "Sumatera Utara", "20112"),
    ("Makassar", "Sulawesi Selatan", "90111"),
    ("Tangerang", "Banten", "15111"),
)
_ID_STREETS = (
    "Jl. Jend. Sudirman",
    "Jl. M.H. Thamrin",
    "Jl. Gatot Subroto",
    "Jl. Asia Afrika",
    "Jl. Malioboro",
    "Jl. Pemuda",
    "Jl. Diponegoro",
    "Jl. Raya Kuta",
)
_ID_KEL = ("Kel. Menteng, Kec. Menteng", "Kel. Senayan, Kec. Kebayoran Baru", "Kel. Braga, Kec. Sumur Bandung")
_SG_SECTORS = ("01", "04", "09", "10", "15", "23", "31", "38", "46", "52", "56", "60", "64", "73", "76", "82")
_SG_HDB_STREETS = (
    "Ang Mo Kio Avenue 3",
    "Toa Payoh Lorong 1",
    "Tampines Street 21",
    "Jurong West Street 52",
    "Bedok North Road",
    "Yishun Ring Road",
    "Punggol Field",
    "Woodlands Drive 14",
)
_SG_OFFICES = (
    ("10 Anson Road", "International Plaza"),
    ("1 Raffles Place", "One Raffles Place"),
    ("8 Marina View", "Asia Square Tower 1"),
    ("391 Orchard Road", "Ngee Ann City"),
    ("3 Temasek Boulevard", "Suntec Tower"),
)


# --------------------------------------------------------------------------------------------
# Helpers (only rng.random() is used, for byte stability across Python versions)
# --------------------------------------------------------------------------------------------


def _below(rng: random.Random, n: int) -> int:
    """0 <= k < n, from rng.random() only."""
    k = int(rng.random() * n)
    return k if k < n else n - 1


def _pick(rng: random.Random, seq):
    return seq[_below(rng, len(seq))]


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """lo <= k <= hi."""
    return lo + _below(rng, hi - lo + 1)


def _cum(rng: random.Random, table):
    r = rng.random()
    for threshold, value in table:
        if r < threshold:
            return value
    return table[-1][1]


def _size(rng: random.Random, lo: float, hi: float) -> float:
    """A size between lo and hi, skewed towards lo (density falls like 1/sqrt)."""
    r = rng.random()
    return lo + (hi - lo) * r * r


def _amount(rng: random.Random, factor: int, lo: float, hi: float, step: int) -> int:
    """A positive amount in minor units: lo..hi AUD-equivalent, rounded (half up) to step."""
    units = int(_size(rng, lo, hi) * factor / step + 0.5) * step
    return units if units > 0 else step


def _fmt(minor_units: int, currency: str) -> str:
    """Integer minor units -> amount string: whole for JPY/IDR, exactly two decimals otherwise."""
    if _MINOR_PER_UNIT[currency] == 1:
        return str(minor_units)
    sign = "-" if minor_units < 0 else ""
    whole, cents = divmod(abs(minor_units), 100)
    return f"{sign}{whole}.{cents:02d}"


def _round_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (for numerator >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


# --------------------------------------------------------------------------------------------
# Record parts
# --------------------------------------------------------------------------------------------


def _name(rng: random.Random, region: str, language: str) -> str:
    if rng.random() < 0.005:
        return _pick(rng, _MARKUP_NAMES.get(region, _MARKUP_NAMES["_"]))
    if region == "JP":
        return f"{_pick(rng, _JP_FAMILY)} {_pick(rng, _JP_GIVEN)}"
    if region == "HK":
        fam = _pick(rng, _HK_FAMILY)
        given = _pick(rng, _HK_GIVEN)
        english = rng.random() < (0.85 if language == "en" else 0.08)
        if not english:
            return fam[0] + given[0]
        if rng.random() < 0.35:
            return f"{_pick(rng, _HK_WESTERN)} {fam[1]} {given[1]}"
        return f"{fam[1]} {given[1]}"
    if region == "MY":
        r = rng.random()
        if r < 0.60:
            if rng.random() < 0.5:
                return f"{_pick(rng, _MY_MALE)} bin {_pick(rng, _MY_FATHER)}"
            return f"{_pick(rng, _MY_FEMALE)} binti {_pick(rng, _MY_FATHER)}"
        if r < 0.88:
            return f"{_pick(rng, _CN_LATIN_FAMILY)} {_pick(rng, _CN_LATIN_GIVEN)}"
        if rng.random() < 0.5:
            return f"{_pick(rng, _IN_MALE)} a/l {_pick(rng, _IN_FATHER)}"
        return f"{_pick(rng, _IN_FEMALE)} a/p {_pick(rng, _IN_FATHER)}"
    if region == "ID":
        if rng.random() < 0.08:
            return _pick(rng, _ID_SINGLE)
        return f"{_pick(rng, _ID_GIVEN)} {_pick(rng, _ID_FAMILY)}"
    if region == "SG":
        r = rng.random()
        if r < 0.45:
            cn = f"{_pick(rng, _CN_LATIN_FAMILY)} {_pick(rng, _CN_LATIN_GIVEN)}"
            return f"{_pick(rng, _EN_FIRST)} {cn}" if rng.random() < 0.4 else cn
        if r < 0.62:
            if rng.random() < 0.5:
                return f"{_pick(rng, _MY_MALE)} bin {_pick(rng, _MY_FATHER)}"
            return f"{_pick(rng, _MY_FEMALE)} binti {_pick(rng, _MY_FATHER)}"
        if r < 0.77:
            if rng.random() < 0.5:
                return f"{_pick(rng, _IN_MALE)} s/o {_pick(rng, _IN_FATHER)}"
            return f"{_pick(rng, _IN_FEMALE)} d/o {_pick(rng, _IN_FATHER)}"
        return f"{_pick(rng, _EN_FIRST)} {_pick(rng, _EN_LAST)}"
    if region == "NZ" and rng.random() < 0.18:
        return f"{_pick(rng, _NZ_MAORI_FIRST)} {_pick(rng, _NZ_MAORI_LAST)}"
    return f"{_pick(rng, _EN_FIRST)} {_pick(rng, _EN_LAST)}"


def _address(rng: random.Random, region: str, language: str) -> dict[str, Any]:
    lines: list[str]
    if region == "JP":
        pref, city, pc3, towns = _pick(rng, _JP_PLACES)
        lines = [f"{_pick(rng, towns)}{_between(rng, 1, 9)}-{_between(rng, 1, 30)}-{_between(rng, 1, 25)}"]
        if rng.random() < 0.55:
            lines.append(f"{_pick(rng, _JP_BUILDINGS)} {_between(rng, 1, 30)}{_between(rng, 1, 12):02d}号室")
        if rng.random() < 0.06:
            lines.append(_pick(rng, _JP_CARE_OF))
        city_, state, postcode = city, pref, f"{pc3}-{_below(rng, 10000):04d}"
    elif region == "HK":
        zh_d, en_d, zh_st, en_st, estate = _pick(rng, _HK_PLACES)
        chinese = language != "en" and rng.random() < 0.9
        floor, flat, num = _between(rng, 2, 45), "ABCDEFGH"[_below(rng, 8)], _between(rng, 1, 388)
        block = _between(rng, 1, 12)
        if chinese:
            lines = [f"{estate[0]}{block}座{floor}樓{flat}室"]
            if rng.random() < 0.6:
                lines.append(f"{zh_st}{num}號")
            city_ = zh_d
        else:
            lines = [f"Flat {flat}, {floor}/F, Block {block}", estate[1]]
            if rng.random() < 0.5:
                lines.append(f"{num} {en_st}")
            city_ = en_d
        state, postcode = "", ""
    elif region == "AU":
        suburb, state, postcode = _pick(rng, _AU_PLACES)
        street = f"{_between(rng, 1, 420)} {_pick(rng, _AU_STREETS)}"
        r = rng.random()
        if r < 0.25:
            lines = [f"Unit {_between(rng, 1, 80)}", street]
        elif r < 0.35:
            lines = [f"Level {_between(rng, 2, 40)}, {street}"]
        elif r < 0.40:
            lines = [f"PO Box {_between(rng, 1, 9999)}"]
        elif r < 0.45:
            lines = [f"C/- {_pick(rng, _EN_FIRST)} {_pick(rng, _EN_LAST)}", f"Unit {_between(rng, 1, 80)}", street]
        else:
            lines = [street]
        city_ = suburb
    elif region == "NZ":
        city_, postcode, suburbs = _pick(rng, _NZ_PLACES)
        lines = [f"{_between(rng, 1, 300)} {_pick(rng, _NZ_STREETS)}"]
        if rng.random() < 0.2:
            lines.insert(0, f"Flat {_between(rng, 1, 12)}")
        if rng.random() < 0.7:
            lines.append(_pick(rng, suburbs))
        state = ""
    elif region == "MY":
        city_, state, postcode = _pick(rng, _MY_PLACES)
        lines = [f"No. {_between(rng, 1, 120)}, {_pick(rng, _MY_STREETS)}"]
        if rng.random() < 0.6:
            lines.append(_pick(rng, _MY_TAMAN))
        if rng.random() < 0.1:
            lines.insert(0, f"Unit {_between(rng, 1, 30)}-{_between(rng, 1, 12)}-{_between(rng, 1, 9)}")
    elif region == "ID":
        city_, state, postcode = _pick(rng, _ID_PLACES)
        lines = [f"{_pick(rng, _ID_STREETS)} No. {_between(rng, 1, 250)}"]
        if rng.random() < 0.6:
            lines.append(f"RT {_between(rng, 1, 15):03d}/RW {_between(rng, 1, 12):03d}")
        if rng.random() < 0.3:
            lines.append(_pick(rng, _ID_KEL))
    elif region == "SG":
        sector = _pick(rng, _SG_SECTORS)
        if rng.random() < 0.7:
            blk = _between(rng, 1, 999)
            lines = [
                f"Blk {blk} {_pick(rng, _SG_HDB_STREETS)}",
                f"#{_between(rng, 2, 25):02d}-{_between(rng, 1, 400):03d}",
            ]
        else:
            street, building = _pick(rng, _SG_OFFICES)
            lines = [street, f"#{_between(rng, 2, 50):02d}-{_between(rng, 1, 20):02d} {building}"]
        city_, state, postcode = "Singapore", "", f"{sector}{_below(rng, 10000):04d}"
    else:  # pragma: no cover - regions are fixed
        raise ValueError(region)
    return {"lines": lines, "city": city_, "state": state, "postcode": postcode, "country": region}


def _language(rng: random.Random, region: str) -> str:
    r = rng.random()
    if region == "JP":
        return "ja" if r < 0.9 else "en"
    if region == "HK":
        return "zh-Hant" if r < 0.78 else "en"
    if region == "MY":
        return "ms" if r < 0.55 else "en"
    if region == "ID":
        return "id" if r < 0.75 else "en"
    return "en"


def _transaction_count(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.05:
        return 0
    if r < 0.08:
        return _between(rng, 60, 150)
    if r < 0.15:
        return _between(rng, 1, 2)
    if r < 0.92:
        return _between(rng, 3, 25)
    return _between(rng, 26, 59)


def _segments(rng: random.Random) -> list[str]:
    k = _cum(rng, _SEGMENT_COUNT_CUM)
    pool = list(_SEGMENTS)
    chosen = set()
    for _ in range(k):
        chosen.add(pool.pop(_below(rng, len(pool))))
    return [s for s in _SEGMENTS if s in chosen]


_KANJI_DIGITS = "〇一二三四五六七八九"


def _kanji(n: int) -> str:
    """1..99 in kanji numerals with 十, as Japanese addresses write them: 4 四, 12 十二, 30 三十."""
    tens, ones = divmod(n, 10)
    return ((_KANJI_DIGITS[tens] if tens > 1 else "") + ("十" if tens else "")
            + (_KANJI_DIGITS[ones] if ones else "")) or "〇"


def _postal_details(address: dict[str, Any], account_id: str) -> dict[str, Any]:
    """What the postal barcodes need, decided by a hash of the account id so the random stream, and so
    every other field of the extract, stays as it was: most Australian addresses carry a DPID (the
    rest did not validate), and Japanese block numbers come in the ways people write them (kanji
    numerals with 丁目/番/号, 番地, full-width digits, a building letter, a floor), so the address-number
    rules all get exercised."""
    h = hashlib.sha256(f"stmtprod.generate.postal:{account_id}".encode()).digest()
    country = address["country"]
    if country == "AU" and h[0] < 218:  # about 85%
        address["dpid"] = f"{int.from_bytes(h[1:5], 'big') % 90_000_000 + 10_000_000:08d}"
    elif country == "JP":
        town = address["lines"][0].rstrip("0123456789-")
        numbers = address["lines"][0][len(town):]
        parts = [int(p) for p in numbers.split("-")]
        style = h[0] % 6
        if style == 1:
            numbers = f"{_kanji(parts[0])}丁目{_kanji(parts[1])}番{_kanji(parts[2])}号"
        elif style == 2:
            numbers = f"{parts[0]}丁目{parts[1]}番地{parts[2]}"
        elif style == 3:
            numbers = numbers.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
        elif style == 4 and len(address["lines"]) > 1:
            address["lines"][1] = address["lines"][1].replace(" ", f" {'ABC'[h[1] % 3]}棟 ", 1)
        elif style == 5:
            numbers += f" {h[1] % 9 + 2}F"
        address["lines"][0] = town + numbers
    return address


def _make_account(
    rng: random.Random,
    seq: int,
    period: tuple[str, str, str, tuple[str, ...]],
    region: str | None = None,
    delivery: str | None = None,
) -> dict[str, Any]:
    if region is None:
        region = _cum(rng, _REGION_CUM)
    currency = CURRENCY[region]
    period_start, period_end, due_date, day_strings = period
    product = _cum(rng, _PRODUCT_CUM)
    language = _language(rng, region)
    paperless = rng.random() < 0.08
    if delivery is None:
        delivery = "paperless" if paperless else "paper"
    name = _name(rng, region, language)
    address = _address(rng, region, language)
    card_last5 = f"{_below(rng, 100000):05d}"

    # Transactions: dates within the period, sorted; mostly purchases, a few refunds.
    factor = _FACTOR[region]
    price_step = _PRICE_STEP[region]
    n_tx = _transaction_count(rng)
    days = sorted(_below(rng, len(day_strings)) for _ in range(n_tx))
    merchants = _MERCHANTS[region]
    refund_prefix = _REFUND_PREFIX.get(region, "REFUND ")
    transactions = []
    tx_sum = purchases = 0
    for d in days:
        cat = _cum(rng, _CATEGORY_CUM)
        merchant = _pick(rng, merchants[cat])
        lo, hi = _BANDS[cat]
        amount = _amount(rng, factor, lo, hi, price_step)
        if region == "JP" and rng.random() < 0.7:  # most yen prices end in 0
            amount = max(10, (amount + 5) // 10 * 10)
        description = merchant
        if cat != "s" and rng.random() < 0.05:
            amount = -amount
            description = refund_prefix + merchant
        else:
            purchases += amount
        tx_sum += amount
        transactions.append({"date": day_strings[d], "description": description, "amount": _fmt(amount, currency)})

    # Balances, in minor units.
    previous = 0 if rng.random() < 0.12 else _amount(rng, factor, 20.0, 6000.0, 1)
    payments = carried = 0
    late = False
    if previous > 0:
        r = rng.random()
        if r < 0.62:  # paid in full
            payments = -previous
        elif r < 0.86:  # partial payment, a round figure
            step = factor * 10
            part = int(previous * (0.05 + 0.85 * rng.random()) / step + 0.5) * step
            part = min(max(part, step), previous - 1) if previous > 1 else previous
            payments = -part
            carried = previous - part
        elif r < 0.98:  # nothing paid
            carried = previous
            late = True
        else:  # overpaid: credit balance
            payments = -(previous + _amount(rng, factor, 5.0, 200.0, 1))
    credits = -_amount(rng, factor, 5.0, 120.0, 1) if rng.random() < 0.08 else 0
    fees = 0
    if late and rng.random() < 0.8:  # late payment fee
        fees += int((15 + 20 * rng.random()) * factor + 0.5)
    if rng.random() < 1 / 12:  # the annual fee falls in this cycle
        fees += _ANNUAL_FEE_AUD[product] * factor
    interest = _round_div(carried * _MONTHLY_RATE_BP[region], 10000) if carried > 0 else 0

    new_balance = previous + payments + credits + fees + interest + tx_sum
    if new_balance > 0:
        minimum_due = min(new_balance, max(_MIN_DUE_FLOOR[region], _round_div(new_balance * _MIN_DUE_PERCENT, 100)))
    else:
        minimum_due = 0

    segments = _segments(rng)
    earned = purchases * _POINTS_PERCENT[product] // (factor * 100)
    points = max(0, _below(rng, 60000) + earned) if rng.random() < 0.9 else max(0, earned)

    return {
        "account_id": f"{region}{seq:010d}",
        "region": region,
        "product": product,
        "language": language,
        "delivery": delivery,
        "name": name,
        "address": _postal_details(address, f"{region}{seq:010d}"),
        "card_last5": card_last5,
        "period_start": period_start,
        "period_end": period_end,
        "due_date": due_date,
        "currency": currency,
        "previous_balance": _fmt(previous, currency),
        "payments": _fmt(payments, currency),
        "credits": _fmt(credits, currency),
        "fees": _fmt(fees, currency),
        "interest": _fmt(interest, currency),
        "new_balance": _fmt(new_balance, currency),
        "minimum_due": _fmt(minimum_due, currency),
        "transactions": transactions,
        "segments": segments,
        "points": points,
    }


def _period(cycle_end: date) -> tuple[str, str, str, tuple[str, ...]]:
    """(period_start, period_end, due_date, every day of the period) as ISO strings."""
    start = cycle_end - timedelta(days=PERIOD_DAYS)
    days = tuple((start + timedelta(days=d)).isoformat() for d in range(PERIOD_DAYS + 1))
    return start.isoformat(), cycle_end.isoformat(), (cycle_end + timedelta(days=DUE_DAYS)).isoformat(), days


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def generate_accounts(count: int, seed: int, cycle_end: date = DEFAULT_CYCLE_END) -> Iterator[dict]:
    """Yield ``count`` valid statement-account records, JSON-ready, in the formats.md key order.

    Streams: one record exists at a time. Account ids are ``region + 10-digit running number``
    (1-based), unique within the extract.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(seed)
    period = _period(cycle_end)
    for i in range(count):
        yield _make_account(rng, i + 1, period)


def bad_plan(count: int, bad: int) -> list[tuple[int, str]]:
    """The deliberately invalid lines of an extract: ``[(0-based index, kind), ...]``.

    Positions are spread evenly over the extract; kinds cycle through :data:`BAD_KINDS`.
    """
    if bad < 0 or bad > count:
        raise ValueError(f"bad must be between 0 and count ({count}), got {bad}")
    return [((2 * i + 1) * count // (2 * bad), BAD_KINDS[i % len(BAD_KINDS)]) for i in range(bad)]


def _dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _bad_line(kind: str, occurrence: int, index: int, seed: int, cycle_end: date) -> str:
    """Build one invalid line, wrong for exactly the one reason named by ``kind``."""
    brng = random.Random(f"stmtprod.generate.bad:{seed}:{index}")
    regions = _BAD_REGIONS[kind]
    region = regions[occurrence % len(regions)]
    period = _period(cycle_end)
    rec = _make_account(brng, index + 1, period, region=region, delivery="paper")
    cur = rec["currency"]
    if kind == "balance_mismatch":
        rec["new_balance"] = f"{Decimal(rec['new_balance']) + MINOR_UNIT[cur]:f}"
    elif kind == "float_amount":
        rec["new_balance"] = float(rec["new_balance"])
    elif kind == "country_mismatch":
        rec["address"]["country"] = _COUNTRY_SWAP[region]
    elif kind == "unknown_region":
        rec["region"] = "XX"
        rec["account_id"] = "XX" + rec["account_id"][2:]
        rec["address"]["country"] = "XX"
        rec["address"].pop("dpid", None)  # an Australian DPID would be a second fault
    elif kind == "jpy_decimals":
        # One more transaction, on the last day of the period, of "1200.50"; new_balance carries
        # the .50 so the sum still adds up and the only fault is the minor unit JPY does not have.
        tx = {"date": period[1], "description": "STARBUCKS SHIBUYA", "amount": "1200.50"}
        rec["transactions"].append(tx)
        rec["new_balance"] = f"{Decimal(rec['new_balance']) + Decimal('1200.50'):f}"
    elif kind == "missing_name":
        del rec["name"]
    elif kind == "invalid_json":
        text = _dumps(rec)
        return text[: len(text) // 2]
    elif kind == "bad_postcode":
        pc = rec["address"]["postcode"]
        if region == "JP":
            pc = pc.replace("-", "")  # NNNNNNN instead of NNN-NNNN
        elif region in ("AU", "NZ"):
            pc = pc + "0"  # 5 digits instead of 4
        else:
            pc = pc[:-1]  # MY/ID 4 digits instead of 5, SG 5 instead of 6
        rec["address"]["postcode"] = pc
    elif kind == "bad_date":
        rec["due_date"] = f"{period[2][:4]}-02-30"  # the due date's year, an impossible day
    elif kind == "currency_mismatch":
        rec["currency"] = "USD"
    else:  # pragma: no cover
        raise ValueError(kind)
    return _dumps(rec)


def extract_lines(
    count: int, seed: int, bad: int = 0, cycle_end: date = DEFAULT_CYCLE_END
) -> Iterator[tuple[str, dict | None, str | None]]:
    """Yield ``(line_text, record_or_None, bad_kind_or_None)`` for each line of an extract.

    ``line_text`` has no trailing newline. For good lines ``record`` is the generated dict and
    ``bad_kind`` is None; for bad lines ``record`` is None and ``bad_kind`` names the defect.
    """
    plan = dict(bad_plan(count, bad))
    occurrence = {k: 0 for k in BAD_KINDS}
    for index, record in enumerate(generate_accounts(count, seed, cycle_end)):
        kind = plan.get(index)
        if kind is None:
            yield _dumps(record), record, None
        else:
            # The good record at this position is still drawn (and dropped), so the records around
            # it are the same whatever `bad` is.
            yield _bad_line(kind, occurrence[kind], index, seed, cycle_end), None, kind
            occurrence[kind] += 1


def write_extract(
    path: str | os.PathLike, count: int, seed: int, bad: int = 0, cycle_end: date = DEFAULT_CYCLE_END
) -> dict:
    """Write a cycle extract atomically; return ``{"records", "paperless", "bad"}``.

    ``records`` counts every line written (good and bad), ``paperless`` the good records with
    paperless delivery (bad records are always "paper"), ``bad`` the invalid lines.
    """
    records = paperless = nbad = 0
    with atomic_open(path, "wb") as fh:
        buf: list[bytes] = []
        for text, record, kind in extract_lines(count, seed, bad, cycle_end):
            buf.append(text.encode("utf-8") + b"\n")
            records += 1
            if kind is not None:
                nbad += 1
            elif record["delivery"] == "paperless":
                paperless += 1
            if len(buf) >= 512:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return {"records": records, "paperless": paperless, "bad": nbad}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stmtprod.generate", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output JSONL path")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--bad", type=int, default=0)
    parser.add_argument("--cycle-end", type=date.fromisoformat, default=DEFAULT_CYCLE_END)
    args = parser.parse_args(argv)
    print(json.dumps(write_extract(args.out, args.count, args.seed, args.bad, args.cycle_end)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
