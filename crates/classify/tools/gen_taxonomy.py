#!/usr/bin/env python3
"""Regenerates data/taxonomy.csv: our own ASCII codes for the first- and second-level subject
names of the government-message tree (the names are facts; the source CSV has no licence and is
not copied) plus the community services of the Suzhou seed document.

Usage: python3 tools/gen_taxonomy.py ../../../shared/data/civic/taxonomy.csv > data/taxonomy.csv
Needs `pip install pypinyin` (initials of the pinyin make the second-level codes readable).
The test `taxonomy_covers_the_civic_tree` checks the result covers every name of the source.
"""
import csv
import sys

from pypinyin import Style, lazy_pinyin

LEVEL1 = {
    "城乡建设": "CJ", "党务政务": "DW", "国土资源": "GT", "环境保护": "HB", "纪检监察": "JJ",
    "交通运输": "JT", "经济管理": "JG", "科技与信息产业": "KJ", "民政": "MZ", "农村农业": "NY",
    "商贸旅游": "SM", "卫生计生": "WS", "政法": "ZF", "教育文体": "JY", "劳动和社会保障": "LS",
}
COMMUNITY = [
    ("JJYL", "居家养老"), ("JYZD", "就业指导"), ("SYJZ", "失业救助"), ("YLBX", "医疗保险"),
    ("JKBJ", "健康保健"), ("WYBX", "物业报修"), ("JF", "缴费"), ("FLYZ", "法律援助"),
    ("RMTJ", "人民调解"), ("LDRK", "流动人口登记"), ("FHFD", "防火防盗"), ("JTBL", "家庭暴力"),
    ("FLZX", "法律咨询"), ("JZ", "家政"),
]


def initials(name, width):
    letters = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).upper()
    return "".join(ch for ch in letters if ch.isalnum())[:width]


def main(path):
    level2 = {}
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            level2.setdefault(row["level1"], [])
            if row["level2"] not in level2[row["level1"]]:
                level2[row["level1"]].append(row["level2"])
    print("# Category tree of the 12345 routing engine. Columns: code,name,parent (empty = root).")
    print("# Subjects: first/second-level names of a real government-message tree (2020 TipDM Cup,")
    print("# task C); codes are ours. SQ: community services of the Suzhou seed document.")
    print("# Regenerate with tools/gen_taxonomy.py; edit freely, keep parents above children.")
    print("@version suzhou-12345-2024.1")
    print("code,name,parent")
    for name1, subs in level2.items():
        code1 = LEVEL1[name1]
        print(f"{code1},{name1},")
        used = set()
        for name2 in subs:
            if name2 == "其他":
                code2 = "QT"
            else:
                code2 = initials(name2, 4)
                n = 2
                while code2 in used or code2 == "QT":
                    code2 = initials(name2, 4) + str(n)
                    n += 1
            used.add(code2)
            print(f"{code1}.{code2},{name2},{code1}")
    print("SQ,社区服务,")
    for code, name in COMMUNITY:
        print(f"SQ.{code},{name},SQ")


if __name__ == "__main__":
    main(sys.argv[1])
