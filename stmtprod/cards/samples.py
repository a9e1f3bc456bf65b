"""Deterministic sample data for the card line: orders, the matching personalisation log, faults.

`write_samples(folder)` writes, byte for byte the same every time:

- `cards.jsonl`: 100 good card orders over the seven markets (JP 26, AU 20, HK 14, MY 10, ID 10,
  SG 10, NZ 10), local-script names in Japan and Hong Kong, plus five deliberately bad lines (Luhn
  failure, expiry month 13, unknown region, a 16-digit number, the same card number ordered twice);
- `personalisation.jsonl`: one line per good order in carrier production order (regions in the
  line's order, then order-file order), slots 1..100, as the personalisation machine reports it;
- `cards-faults/*.jsonl`: the same log with one fault each (two cards swapped, one missing, one
  extra, a wrong embossed name, wrong last five digits) for the match's tests and drills.

Card numbers are synthetic 15-digit numbers in the American Express test range (starting 37) with a
valid Luhn check digit; they are sensitive by rule all the same, and the line treats them so.

Command line: ``python -m stmtprod.cards.samples [FOLDER]`` (default `samples/`).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from stdnum import luhn

from stmtprod.fsutil import atomic_open
from stmtprod.regions import REGIONS

COUNTS = {"JP": 26, "AU": 20, "HK": 14, "MY": 10, "ID": 10, "SG": 10, "NZ": 10}
_FILE_ORDER = ("JP", "AU", "HK", "MY", "ID", "SG", "NZ")   # interleaved below, like a real extract
_PRODUCTS = ("classic", "gold", "platinum", "business", "classic", "gold")
_REASONS = ("new", "new", "renewal", "new", "replacement", "renewal", "new")
_EXTRA_SEGMENTS = ((), ("travel",), ("dining",), ("premium",), ("online",), ("travel", "premium"), ())

_JP_FAMILY = (("山田", "YAMADA"), ("佐藤", "SATO"), ("鈴木", "SUZUKI"), ("高橋", "TAKAHASHI"), ("田中", "TANAKA"),
              ("伊藤", "ITO"), ("渡辺", "WATANABE"), ("中村", "NAKAMURA"), ("小林", "KOBAYASHI"), ("加藤", "KATO"))
_JP_GIVEN = (("太郎", "TARO"), ("花子", "HANAKO"), ("翔太", "SHOTA"), ("陽菜", "HINA"), ("大輔", "DAISUKE"),
             ("美咲", "MISAKI"), ("健一", "KENICHI"), ("由美", "YUMI"), ("直樹", "NAOKI"))
_JP_ADDR = (("105-0001", "東京都", "港区", ["虎ノ門4-1-1", "神谷町トラストタワー"]),
            ("530-0001", "大阪府", "大阪市北区", ["梅田2-4-9"]),
            ("460-0008", "愛知県", "名古屋市中区", ["栄3-5-1"]),
            ("060-0001", "北海道", "札幌市中央区", ["北一条西2-1"]),
            ("812-0011", "福岡県", "福岡市博多区", ["博多駅前2-1-1", "博多ビル5階"]))
_HK_FAMILY = (("陳", "CHAN"), ("李", "LEE"), ("張", "CHEUNG"), ("黃", "WONG"), ("何", "HO"), ("梁", "LEUNG"))
_HK_GIVEN = (("大文", "TAI MAN"), ("嘉欣", "KA YAN"), ("志強", "CHI KEUNG"), ("美玲", "MEI LING"), ("家豪", "KA HO"))
_HK_ADDR = ((["金鐘道88號", "太古廣場一座12樓"], "金鐘", "香港島"),
            (["Flat 12B, Tower 2", "1 Austin Road West"], "Tsim Sha Tsui", "Kowloon"),
            (["沙田正街18號", "新城市廣場3樓"], "沙田", "新界"))
_EN_FIRST = ("Jane", "John", "Olivia", "Jack", "Charlotte", "William", "Amelia", "Noah", "Mia", "Grace", "Thomas")
_EN_LAST = ("Citizen", "Smith", "Jones", "Williams", "Nguyen", "Taylor", "O'Connor", "Patel", "Chen", "Murphy")
_AU_ADDR = ((["Level 3, 1 Martin Place"], "Sydney", "NSW", "2000"), (["22 Collins Street"], "Melbourne", "VIC", "3000"),
            (["Unit 5, 80 Ann Street"], "Brisbane", "QLD", "4000"), (["14 Hay Street"], "Perth", "WA", "6000"))
_NZ_ADDR = ((["12 Queen Street"], "Auckland", "", "1010"), (["40 Lambton Quay"], "Wellington", "", "6011"),
            (["7 Cashel Street"], "Christchurch", "", "8011"))
_MY_NAMES = (("Ahmad bin Ismail", "AHMAD BIN ISMAIL"), ("Nur Aisyah binti Hassan", "NUR AISYAH HASSAN"),
             ("Tan Wei Ming", "TAN WEI MING"), ("Priya a/p Krishnan", "PRIYA KRISHNAN"),
             ("Mohd Azlan bin Yusof", "MOHD AZLAN YUSOF"))
_MY_ADDR = ((["No. 8, Jalan Ampang"], "Kuala Lumpur", "Wilayah Persekutuan", "50450"),
            (["12, Jalan SS2/24"], "Petaling Jaya", "Selangor", "47300"),
            (["3, Lebuh Pantai"], "George Town", "Pulau Pinang", "10300"))
_ID_NAMES = (("Budi Santoso", "BUDI SANTOSO"), ("Dewi Lestari", "DEWI LESTARI"), ("Agus Setiawan", "AGUS SETIAWAN"),
             ("Sutrisno", "SUTRISNO"), ("Putri Wulandari", "PUTRI WULANDARI"))
_ID_ADDR = ((["Jl. Jend. Sudirman Kav. 52-53"], "Jakarta Selatan", "DKI Jakarta", "12190"),
            (["Jl. Asia Afrika No. 8"], "Bandung", "Jawa Barat", "40111"),
            (["Jl. Pemuda No. 27"], "Surabaya", "Jawa Timur", "60271"))
_SG_NAMES = (("Lim Mei Ling", "LIM MEI LING"), ("Rajesh Kumar", "RAJESH KUMAR"), ("Goh Jun Jie", "GOH JUN JIE"),
             ("Siti Nurhaliza", "SITI NURHALIZA"), ("Emily Tan", "EMILY TAN"))
_SG_ADDR = ((["10 Marina Boulevard", "#20-01"], "Singapore", "", "018983"),
            (["Blk 123 Toa Payoh Lorong 1", "#05-12"], "Singapore", "", "310123"),
            (["1 Orchard Road", "#08-03"], "Singapore", "", "238824"))

# Bad lines: (line number in the file, kind). Placed among the good ones.
BAD_LINES = {9: "luhn", 33: "expiry", 58: "region", 77: "length", 96: "duplicate_pan"}


def _pick(seq, n: int):
    return seq[n % len(seq)]


def sample_pan(n: int) -> str:
    """A 15-digit number starting 37 with a valid Luhn check digit, a pure function of n."""
    digest = hashlib.sha256(f"stmtprod card sample {n}".encode()).hexdigest()
    body = "37" + "".join(str(int(c, 16) % 10) for c in digest[:12])
    return body + luhn.calc_check_digit(body)


def _person(region: str, k: int) -> tuple[str, str, str]:
    """(name, embossed name, language) of the k-th order of a region."""
    if region == "JP":
        fam, giv = _pick(_JP_FAMILY, k), _pick(_JP_GIVEN, k * 7 + 3)
        return f"{fam[0]} {giv[0]}", f"{giv[1]} {fam[1]}", "en" if k % 9 == 4 else "ja"
    if region == "HK":
        if k % 5 == 2:
            first, last = _pick(_EN_FIRST, k), _pick(("Wong", "Chan", "Lee", "Ho"), k)
            return f"{first} {last}", f"{first} {last}".upper(), "en"
        fam, giv = _pick(_HK_FAMILY, k), _pick(_HK_GIVEN, k * 3 + 1)
        return f"{fam[0]}{giv[0]}", f"{fam[1]} {giv[1]}", "zh-Hant"
    table = {"MY": _MY_NAMES, "ID": _ID_NAMES, "SG": _SG_NAMES}.get(region)
    if table:
        name, emb = _pick(table, k)
        lang = {"MY": "ms", "ID": "id", "SG": "en"}[region] if k % 4 != 3 else "en"
        return name, emb, lang
    first, last = _pick(_EN_FIRST, k * 5 + (region == "NZ")), _pick(_EN_LAST, k * 3 + 2)
    title = _pick(("MS", "MR", "DR", ""), k)
    emb = f"{title} {first} {last}".strip().upper().replace("'", "")
    return f"{first} {last}", emb, "en"


def _address(region: str, k: int) -> dict:
    if region == "JP":
        postcode, state, city, lines = _pick(_JP_ADDR, k)
        return {"lines": lines, "city": city, "state": state, "postcode": postcode, "country": "JP"}
    if region == "HK":
        lines, city, state = _pick(_HK_ADDR, k)
        return {"lines": lines, "city": city, "state": state, "postcode": "", "country": "HK"}
    lines, city, state, postcode = _pick({"AU": _AU_ADDR, "NZ": _NZ_ADDR, "MY": _MY_ADDR, "ID": _ID_ADDR,
                                          "SG": _SG_ADDR}[region], k)
    return {"lines": lines, "city": city, "state": state, "postcode": postcode, "country": region}


def good_orders() -> list[dict]:
    """The 100 good orders in file order (regions interleaved)."""
    made = {r: 0 for r in REGIONS}
    orders, n = [], 0
    while any(made[r] < COUNTS[r] for r in REGIONS):
        for region in _FILE_ORDER:
            # JP and AU come twice per round so the mix follows COUNTS without long runs.
            for _ in range(2 if region in ("JP", "AU") else 1):
                if made[region] >= COUNTS[region]:
                    continue
                k = made[region]
                made[region] += 1
                name, embossed, language = _person(region, k)
                reason = _pick(_REASONS, n)
                segments = (["new_member"] if reason == "new" and n % 3 else []) + list(_pick(_EXTRA_SEGMENTS, n))
                orders.append({
                    "card_id": f"C-{region}-{k + 1:06d}", "region": region, "product": _pick(_PRODUCTS, n + k),
                    "language": language, "pan": sample_pan(n), "expiry": f"{2029 + n % 3}-{n % 12 + 1:02d}",
                    "embossed_name": embossed, "name": name, "address": _address(region, k), "reason": reason,
                    "segments": segments})
                n += 1
    return orders


def _bad(kind: str, template: dict, n: int, earlier_pan: str) -> dict:
    order = json.loads(json.dumps(template))
    order["card_id"] = f"C-{template['region']}-9{n:05d}"
    pan = sample_pan(1000 + n)
    if kind == "luhn":
        order["pan"] = pan[:-1] + str((int(pan[-1]) + 3) % 10)
    elif kind == "expiry":
        order["pan"], order["expiry"] = pan, "2029-13"
    elif kind == "region":
        order["pan"], order["region"] = pan, "XX"
        order["address"]["country"] = "XX"
    elif kind == "length":
        body = "4" + pan[1:]
        order["pan"] = body + luhn.calc_check_digit(body)   # 16 digits, Luhn-valid: not a 15-digit card
    elif kind == "duplicate_pan":
        order["pan"] = earlier_pan
    return order


def order_lines() -> list[dict]:
    good = good_orders()
    lines, g = [], 0
    total = len(good) + len(BAD_LINES)
    for number in range(1, total + 1):
        if number in BAD_LINES:
            template = good[(number * 7) % len(good)]
            lines.append(_bad(BAD_LINES[number], template, number, good[3]["pan"]))
        else:
            lines.append(good[g])
            g += 1
    return lines


def production_order(orders: list[dict]) -> list[dict]:
    """Good orders as the line sequences them: regions in the line's order, then file order."""
    return sorted(orders, key=lambda o: REGIONS.index(o["region"]))


def personalisation(orders: list[dict]) -> list[dict]:
    return [{"card_id": o["card_id"], "pan_last5": o["pan"][-5:], "embossed_name": o["embossed_name"], "slot": i}
            for i, o in enumerate(production_order(orders), 1)]


def faults(log: list[dict]) -> dict[str, list[dict]]:
    def renumber(rows):
        return [{**r, "slot": i} for i, r in enumerate(rows, 1)]

    swapped = [dict(r) for r in log]
    a, b = swapped[9], swapped[10]
    swapped[9] = {**b, "slot": a["slot"]}
    swapped[10] = {**a, "slot": b["slot"]}
    missing = renumber(log[:24] + log[25:])
    extra = renumber(log[:39] + [{"card_id": "C-JP-999999", "pan_last5": "00000", "embossed_name": "EXTRA CARD",
                                  "slot": 0}] + log[39:])
    wrong_name = [dict(r) for r in log]
    wrong_name[54]["embossed_name"] = wrong_name[54]["embossed_name"] + "X"
    wrong_last5 = [dict(r) for r in log]
    wrong_last5[69]["pan_last5"] = f"{(int(wrong_last5[69]['pan_last5']) + 1) % 100000:05d}"
    return {"swapped": swapped, "missing": missing, "extra": extra, "wrong-name": wrong_name,
            "wrong-last5": wrong_last5}


def _write(path: Path, rows: list[dict]) -> None:
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_samples(folder: Path | str = "samples") -> dict:
    folder = Path(folder)
    lines = order_lines()
    good = [o for i, o in enumerate(lines, 1) if i not in BAD_LINES]
    log = personalisation(good)
    _write(folder / "cards.jsonl", lines)
    _write(folder / "personalisation.jsonl", log)
    for name, rows in faults(log).items():
        _write(folder / "cards-faults" / f"{name}.jsonl", rows)
    return {"orders": len(lines), "good": len(good), "bad": len(BAD_LINES), "slots": len(log)}


if __name__ == "__main__":
    print(json.dumps(write_samples(sys.argv[1] if len(sys.argv) > 1 else "samples")))
