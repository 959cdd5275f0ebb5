"""Synthetic Chinese personal and company names and identity numbers (never real people)."""

from __future__ import annotations

import numpy as np

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常"
)
GIVEN_M = list("伟强磊军勇杰涛明超华平刚辉鹏斌宇浩志文峰建国海波林东亮俊")
GIVEN_F = list("芳娜敏静丽艳娟霞燕玲婷雪慧琳洁红梅兰萍颖倩晶莉婉琴")
# administrative-division prefixes of the 14 cities (synthetic but well-formed)
CITY_DIVISION = [
    440100,
    440300,
    441900,
    440600,
    440500,
    440400,
    441300,
    442000,
    440700,
    440800,
    440900,
    441200,
    441400,
    445200,
]
COMPANY_WORDS = list("华信达通宏远恒泰盛和兴隆鑫源丰安瑞祥嘉德康明星辰海天")
INDUSTRY_SUFFIX = {
    "government": "局",
    "finance": "银行支行",
    "education": "学校",
    "healthcare": "医院",
    "transport_logistics": "物流有限公司",
    "manufacturing": "制造有限公司",
    "retail_trade": "商贸有限公司",
    "energy": "能源有限公司",
    "construction_real_estate": "建设集团",
    "it_media": "科技有限公司",
    "services": "服务有限公司",
    "agriculture": "农业合作社",
    None: "有限公司",
}
CITY_PREFIX = [
    "广州",
    "深圳",
    "东莞",
    "佛山",
    "汕头",
    "珠海",
    "惠州",
    "中山",
    "江门",
    "湛江",
    "茂名",
    "肇庆",
    "梅州",
    "揭阳",
]


class NameMaker:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def person_names(self, n: int, gender) -> list[str]:
        rng = self.rng
        sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
        gender = np.asarray(gender)
        g1 = np.where(
            gender == 0,
            np.array(GIVEN_M)[rng.integers(0, len(GIVEN_M), n)],
            np.array(GIVEN_F)[rng.integers(0, len(GIVEN_F), n)],
        )
        g2 = np.where(
            rng.random(n) < 0.6, np.array(GIVEN_M + GIVEN_F)[rng.integers(0, len(GIVEN_M) + len(GIVEN_F), n)], ""
        )
        return np.char.add(np.char.add(sur, g1), g2).tolist()

    def id_numbers(self, rng, city, birth, gender) -> list[str]:
        """18-digit resident ID numbers: division + birth date + sequence + ISO 7064 check digit."""
        n = len(city)
        div = np.array(CITY_DIVISION)[np.asarray(city, int)] + rng.integers(1, 20, n)
        seq = rng.integers(0, 50, n) * 2 + np.asarray(gender)  # odd = male in the real scheme
        body = np.char.add(
            np.char.add(div.astype(str), np.datetime_as_string(np.asarray(birth, "datetime64[D]")).astype("U10")),
            np.char.zfill((100 + seq).astype(str), 3),
        )
        body = np.char.replace(body, "-", "")
        digits = np.frombuffer("".join(body.tolist()).encode(), np.uint8).reshape(n, 17) - 48
        weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
        check = np.array(list("10X98765432"))[(digits * weights).sum(axis=1) % 11]
        return np.char.add(body, check).tolist()

    def company_names(self, rng, city, industry) -> list[str]:
        n = len(city)
        w1 = np.array(COMPANY_WORDS)[rng.integers(0, len(COMPANY_WORDS), n)]
        w2 = np.array(COMPANY_WORDS)[rng.integers(0, len(COMPANY_WORDS), n)]
        return [
            f"{CITY_PREFIX[int(c)]}{a}{b}{INDUSTRY_SUFFIX.get(i, '有限公司')}{k:04d}"
            for k, (c, a, b, i) in enumerate(zip(city, w1, w2, industry, strict=True))
        ]

    def credit_codes(self, rng, n: int) -> list[str]:
        alphabet = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
        return ["".join(row) for row in alphabet[rng.integers(0, len(alphabet), (n, 18))]]
