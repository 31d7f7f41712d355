"""Chinese personal names for the synthetic twin: generation, typos, romanisation.

Names are drawn from two tables shipped in ``povguard/resources/synth``:

* ``surnames.csv`` (``surname,pinyin,per_mille``): 200+ surnames including compound
  ones (欧阳, 上官 ...), with the surname reading of multi-reading characters
  (覃 qin, 曾 zeng, 单 shan) and frequencies per 1,000 people (sources in its
  header: 公安部户政管理研究中心《2020年全国姓名报告》, the 2010 census; values after
  rank 100 assumed);
* ``given_chars.csv`` (``char,sex,weight``): about 300 given-name characters for men
  (``m``), women (``f``) or either (``n``) with assumed relative weights.

Shares and factors used here
----------------------------

========================================================  =========  ==============================
share                                                     value      source or 'assumed'
========================================================  =========  ==============================
single-character given name, born before 1950             12%        assumed
single-character given name, born 1950-1959               15%        assumed
single-character given name, born 1960-1969               18%        assumed (two-character ~80%)
single-character given name, born 1970-1979               22%        assumed
single-character given name, born 1980-1999               27.6%      2020 report: peak share of
                                                                     two-character full names
                                                                     27.6% (peak cohorts assumed)
single-character given name, born 2000-2009               12%        assumed (decline)
single-character given name, born 2010 or later           6.3%       2020 report: share fell to 6.3%
weight factor of a character typical of the birth era     x4         assumed; characters from the
                                                                     2020 report's most-used names
                                                                     per decade (建国/建华, 英/兰;
                                                                     军/勇/英/丽; 伟/磊/静/丽;
                                                                     浩宇/欣怡/梓涵; 梓/子/宇/辰/一)
weight factor of an old-fashioned character, born 2000+   x0.25      assumed
weight factor of a modern character, born before 1960     x0.1       assumed
typo on the surname instead of the given name             10%        assumed (``surname_share``)
weight of a homophone that is a name character            x3         assumed (vs other characters)
========================================================  =========  ==============================

Given-name characters are drawn independently (so reduplicated names such as 娜娜
occur). Surnames follow the national table; a region can reweight them with
``NameGenerator.surnames(..., multipliers=...)``.

Typos (:func:`mistype_names_kind`) replace exactly one character: a homophone (same
toneless pinyin, ``pypinyin`` ``Style.NORMAL``; surnames use their surname reading)
drawn from the characters of both tables plus ``EXTRA_HOMOPHONE_CHARS``, or a
visually similar character from ``SHAPE_GROUPS``. A character without a homophone
in that pool gets a shape-similar character instead, and one without a shape
neighbour gets a random given-name character; the second return value says which
kind was applied.

Romanisation (:func:`romanise`) is upper-case toneless pinyin, family name first,
given-name syllables written together (欧阳娜娜 -> ``OUYANG NANA``), ``ü`` written
``YU`` as on passports (吕 -> ``LYU``). Given-name characters use their most common
reading, one character at a time (no word context).

Splitting (:func:`split_name`) takes a compound surname when a name of three or
more characters starts with one, else the first character. A single surname followed
by a given name starting with the second half of a compound surname (欧 + 阳明) is
read as the compound (欧阳 + 明): the ambiguity is real, and rare (about 1 in
100,000 generated names).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pypinyin import Style, lazy_pinyin

from povguard.synth._arrays import as_str_array, code_matrix, matrix_to_str

__all__ = [
    "EXTRA_HOMOPHONE_CHARS",
    "SHAPE_GROUPS",
    "NameGenerator",
    "full_names",
    "homophones",
    "mistype_names",
    "mistype_names_kind",
    "romanise",
    "shape_neighbours",
    "split_name",
]

_RESOURCE_DIR = ("resources", "synth")

#: Birth-year cohorts (first year of each band) and the share of single-character
#: given names in each (see the module docstring table).
SINGLE_GIVEN_COHORTS: tuple[tuple[int, float], ...] = (
    (-9999, 0.12),
    (1950, 0.15),
    (1960, 0.18),
    (1970, 0.22),
    (1980, 0.276),
    (2000, 0.12),
    (2010, 0.063),
)

#: Eras for character fashions: first birth year of eras 1, 2, 3 (era 0 is before 1960).
_ERA_STARTS = (1960, 1980, 2000)
_ERA_BOOST = 4.0
_ERA_TYPICAL: tuple[str, ...] = (
    "建国华英兰秀珍桂凤德福贵荣祥根生金玉明志忠芳淑梅春",
    "军勇英丽红卫东兵平霞萍燕强华建国玲敏芳伟涛刚海",
    "伟磊静丽杰涛超婷娟敏鹏辉斌俊飞艳燕丹倩雪晶莉洁颖亮鑫浩",
    "浩宇然欣怡梓涵子辰轩诺一奕亦宸墨豪航睿泽博妍瑶萱桐语汐玥依伊昕可佳思雨诗馨嘉锦琪逸",
)
_OLD_FASHIONED = "秀珍桂凤翠花菊根柱福贵富财妹香银英兰梅芬霞娟淑素芝红军兵卫国建华强勇刚平萍燕"
_OLD_FASHIONED_FACTOR = 0.25
_MODERN = "梓涵轩诺汐玥奕宸墨睿昕萱妍瑶桐逸皓煜霏嫣馨"
_MODERN_FACTOR = 0.1

#: Groups of visually similar characters; each character may be mistaken for any other
#: character of its group(s).
SHAPE_GROUPS: tuple[str, ...] = (
    "王玉主壬",
    "未末朱",
    "己已巳",
    "土士",
    "日曰",
    "人入八",
    "大太犬",
    "天夫",
    "田由甲申",
    "杨扬汤场",
    "刘列",
    "陈阵",
    "晴睛情清请",
    "徐涂余",
    "余佘",
    "干千于",
    "午牛",
    "今令",
    "代伐",
    "休体",
    "侯候",
    "贝见",
    "鸟乌",
    "白自百",
    "问间",
    "折拆析",
    "崇祟",
    "冶治",
    "衰哀衷",
    "宫官",
    "密蜜",
    "晶品",
    "李季",
    "张涨",
    "赵越",
    "何河",
    "胡湖",
    "黄寅",
    "高亮",
    "罗岁",
    "梁粱",
    "宋宗",
    "唐庸",
    "许浒",
    "冯马",
    "曹曾",
    "彭膨",
    "肖消",
    "董懂",
    "潘播",
    "袁表",
    "蒋将",
    "杜社",
    "叶什",
    "程呈",
    "魏巍",
    "吕品",
    "丁了",
    "沈沉",
    "钟种",
    "谭潭",
    "陆际",
    "范苑",
    "汪注",
    "石右",
    "金全",
    "夏复",
    "方万",
    "孟盂",
    "秦泰奏",
    "邱丘",
    "尹伊",
    "雷雪蕾",
    "龙尤",
    "史吏",
    "陶淘",
    "贺货",
    "毛手",
    "邵召",
    "严产",
    "武式",
    "戴载",
    "向问",
    "明朋",
    "超起",
    "华毕桦",
    "平半",
    "辉挥晖",
    "国围因",
    "梅海",
    "娟绢捐",
    "英央",
    "玲冷伶",
    "婷停亭",
    "凤风岚",
    "桂挂",
    "慧彗",
    "淑叔",
    "珍诊",
    "文又",
    "小少",
    "永水",
    "波坡破",
    "峰蜂锋",
    "琳淋",
    "晓烧",
    "浩诰",
    "宇字",
    "辰晨",
    "佳住",
    "怡恰",
    "悦说",
    "琪棋",
    "丹舟",
    "生牛",
    "志忘",
    "贵责",
    "荣菜",
    "祥样",
    "庆床",
    "发友",
    "根银很",
    "柏拍",
    "航杭",
    "博傅搏",
    "瑞端",
    "泽择",
    "胜性",
    "民氏",
    "新亲",
    "良艮",
    "才寸",
    "元无",
    "财材",
    "昊吴",
    "翔详",
    "诚城",
    "娜哪",
    "露路",
    "蓉容",
    "芬分",
    "媛缓援",
    "瑶摇遥",
    "妍研",
    "薇微徽",
    "翠萃",
    "彩采",
    "素索",
    "芝之",
    "依衣",
    "涵函",
    "萱宣",
    "思恩",
    "雨两",
    "桐铜钢",
    "珊删",
    "倩债",
    "莹萤荧",
    "婕捷",
    "兵乒",
    "虎虑",
    "帅师",
    "豪毫",
    "俊竣",
    "健键建",
    "剑创",
    "刚则",
    "军车",
    "勇甬",
    "杰术",
    "涛寿",
    "红江",
    "兰拦",
    "秀季",
    "东乐",
    "宏宠",
    "斌赋",
    "鹏朋",
    "洁诘",
    "林材",
    "江汪",
    "成戌",
    "仁仨",
    "义又",
    "福副富",
    "安案",
    "学字",
    "宝室",
    "喜善",
    "有布",
    "开并",
    "诺若",
    "梦楚",
    "可司",
    "冰水",
    "颖频",
    "鑫森",
    "凯岂",
    "磊晶",
    "琴瑟",
    "云去",
    "莉利",
    "霞暇",
    "静睁",
    "敏繁",
    "芳方",
    "强弦",
    "伟传炜",
    "鸿鸣",
    "铭名",
    "婧倩靖",
    "敬警",
    "洪共",
    "坤伸",
    "立位",
    "君群",
    "钧均",
    "玮韦",
    "韬稻",
    "咏泳",
    "彬杉",
    "滨宾",
    "侠狭",
    "玫攻",
    "媚眉",
    "绣锈",
    "雁燕",
    "艳丰",
    "丽两",
    "阳阴",
    "轩轨",
    "光先",
    "振赈",
    "德徳得",
    "萍评坪苹",
    "欣炘",
    "月用",
    "美姜",
    "子孑了",
    "宁宇",
    "家嫁",
    "一乙",
    "亚严",
    "忠患",
    "顺须",
    "山出",
    "智知",
    "勤勒",
    "柱住注桂",
    "栋冻",
    "松讼",
    "启后",
    "昌冒",
    "康庚",
    "腾滕藤",
    "奇琦骑",
    "俊骏",
    "达过",
    "皓浩",
    "煜昱",
    "政故",
    "奕弈亦",
    "宸辰晨",
    "墨默黑",
    "逸免",
    "然燃",
    "花化",
    "菊鞠",
    "虹红",
    "琼凉",
    "爱受",
    "雯雪",
    "娇骄桥",
    "秋秒",
    "春舂椿",
    "凌陵菱",
    "霖淋",
    "欢劝",
    "昕听",
    "嘉喜",
    "雅鸦",
    "彪虎",
    "铁失",
    "铮挣",
    "炎淡",
    "登澄",
    "礼孔札",
    "运远",
    "坚竖紧",
    "进迸",
    "廷延庭",
    "瑛英",
    "璐露路",
    "巧功",
    "汐沙",
    "玥钥",
    "蕊芯",
    "姗珊删",
    "莎沙",
    "嫣焉",
    "妮呢",
    "霏菲非",
    "锦绵棉",
    "楠南",
    "凡几丸帆",
    "艺乙",
    "蔚尉慰",
    "哲折",
    "恒桓垣",
    "锐悦说",
    "耀曜",
    "渊洲",
    "瀚翰",
    "晟盛",
    "琛深探",
    "骁晓",
    "鹤鸽",
    "霆庭",
    "钦饮",
    "彦颜产",
    "彤丹",
    "娅哑亚",
    "婉碗宛",
    "馨磬",
    "韵均",
    "蓓倍",
    "茜西",
    "曼漫慢",
    "芸云",
    "诗持寺",
    "语悟",
    "心必",
    "钰钮",
    "俐例利",
    "姣佼校",
    "妹姝",
    "周同",
    "孙逊",
    "郭廓",
    "郑邓",
    "谢射",
    "韩朝",
    "蔡祭察",
    "苏办",
    "任仕",
    "卢户芦",
    "姚桃挑",
    "崔催",
    "廖寥",
    "贾贯",
    "付附什",
    "邹皱",
    "熊能",
    "薛薜",
    "闫闪",
    "段锻",
    "黎梨",
    "郝赫",
    "顾硕项",
    "龚袭",
    "覃谭潭",
    "钱线浅",
    "莫漠暮",
    "欧区殴",
    "常堂",
    "温湿",
    "施旋旅",
    "樊攀",
    "葛喝渴",
    "邢刑形",
    "齐乔",
    "伍仵",
    "庞宠",
    "倪睨",
    "庄压",
    "聂摄",
    "毅殷",
    "香杳",
    "梓辛",
    "权杈",
    "兴举",
)

#: Common characters added to the homophone pool (typical wrong IME candidates for
#: name characters), grouped loosely by reading.
EXTRA_HOMOPHONE_CHARS: str = (
    "为位维威微卫未唯围惟魏委味俊峻骏郡均菌竣力历励荔黎礼理里李厉栗京经晶精景井境竞镜"
    "净径节街阶结界借解姐介届名命房放防访仿洪弘泓轰应营迎影映硬赢鹰樱莺零岭领令灵龄"
    "铃陵菱临邻淋磷鳞麟评瓶凭屏桃逃讨套淘岗港纲缸用拥泳庸涌宾缤濒会回汇惠绘挥灰卉见"
    "件坚间简检鉴键箭舰风封疯奉枫蜂言研岩延颜眼演宴验焰下虾峡狭匣暇蓝篮栏拦览懒澜每"
    "妹煤枚眉媒休修袖锈化画话滑划还孩害骇亥楷慨铠墙枪腔蔷类泪累垒朝潮抄吵巢过果锅裹"
    "非费肥妃隆笼聋珑号好耗毫与语育鱼遇羽愉选宣旋悬玄璇棚蓬捧伯泊勃薄之知支直值织智"
    "治致冬懂洞并病饼丙炳将讲奖降酱疆洋样养扬羊央心信辛芯以已意艺亿易益宜仪谊越约岳"
    "跃七其期起气齐棋旗鹿录容融绒溶园原远院源圆苑缘要药摇遥谣材采菜猛盟萌问闻稳纹温"
    "血穴亲芹真针镇贞规归鬼柜前千浅签脆催萃局举聚剧居纯唇醇淳求球运允匀字自紫资姿今"
    "进近津晋善杉闪衫扇增赠那纳拿率摔则择责广逛得昆困舜瞬法乏跟杭抗慷答打标表贴守首受"
    "捐绢卷分纷粉穷穹挪糯沙纱凝柠按岸暗环换焕勒南男难裙者浙横衡贝倍北备满漫蔓弱照兆昭"
    "州洲舟损稿膏草槽天甜添盘盼度渡独读业夜页旅律绿定顶鼎料辽聊走奏雄兄后厚候短断端茂"
    "帽矛公功弓宫绍哨少代带黛空控纽妞旁胖装壮妆捏涅了"
)

_COMPOUND_MIN_LEN = 3  # a compound surname needs at least one given character after it
_SURNAME_TYPO_SHARE = 0.1
#: Weight of a homophone that is itself a name character (vs 1 for other characters).
_NAME_CHAR_WEIGHT = 3.0
_CJK_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


# --------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class _Tables:
    surnames: NDArray[np.str_]
    surname_pinyin: dict[str, str]
    surname_p: NDArray[np.float64]
    chars: NDArray[np.str_]
    char_sex: NDArray[np.str_]
    char_weight: NDArray[np.float64]


def _read_csv(name: str) -> list[dict[str, str]]:
    path = resources.files("povguard").joinpath(*_RESOURCE_DIR, name)
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@functools.cache
def _tables() -> _Tables:
    """Load both CSV tables once per process."""
    sur_rows = _read_csv("surnames.csv")
    given_rows = _read_csv("given_chars.csv")
    surnames = np.array([r["surname"] for r in sur_rows], dtype="<U2")
    per_mille = np.array([float(r["per_mille"]) for r in sur_rows])
    chars = np.array([r["char"] for r in given_rows], dtype="<U1")
    sex = np.array([r["sex"] for r in given_rows], dtype="<U1")
    if not np.isin(sex, ["m", "f", "n"]).all():
        raise ValueError("given_chars.csv: sex must be m, f or n")
    return _Tables(
        surnames=surnames,
        surname_pinyin={r["surname"]: r["pinyin"] for r in sur_rows},
        surname_p=per_mille / per_mille.sum(),
        chars=chars,
        char_sex=sex,
        char_weight=np.array([float(r["weight"]) for r in given_rows]),
    )


def _compound_surnames() -> tuple[str, ...]:
    return tuple(s for s in _tables().surnames.tolist() if len(s) == 2)


# --------------------------------------------------------------------------- helpers
def _pair_key(first: NDArray[np.uint32], second: NDArray[np.uint32]) -> NDArray[np.int64]:
    """One int64 per pair of code points (code points are < 2^21)."""
    out: NDArray[np.int64] = (first.astype(np.int64) << 21) | second.astype(np.int64)
    return out


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


@functools.cache
def _reading(ch: str) -> str:
    """Most common toneless reading of one character ('' when pypinyin has none)."""
    value = lazy_pinyin(ch, style=Style.NORMAL)[0]
    return "" if value == ch else value


def _key(reading: str) -> str:
    """Normalise a toneless reading for grouping (``ü`` and ``v`` are the same)."""
    return reading.replace("ü", "v").lower()


@functools.cache
def _homophone_pool() -> dict[str, tuple[str, ...]]:
    """Characters grouped by toneless reading (built once)."""
    t = _tables()
    groups: dict[str, set[str]] = {}
    chars: set[str] = set(t.chars.tolist()) | set(EXTRA_HOMOPHONE_CHARS)
    for surname in t.surnames.tolist():
        chars.update(surname)
    for ch in chars:
        reading = _reading(ch)
        if reading:
            groups.setdefault(_key(reading), set()).add(ch)
    for surname, reading in t.surname_pinyin.items():
        if len(surname) == 1:
            groups.setdefault(_key(reading), set()).add(surname)
    return {k: tuple(sorted(v)) for k, v in groups.items()}


@functools.cache
def _shape_map() -> dict[str, tuple[str, ...]]:
    neighbours: dict[str, set[str]] = {}
    for group in SHAPE_GROUPS:
        for ch in group:
            neighbours.setdefault(ch, set()).update(c for c in group if c != ch)
    return {k: tuple(sorted(v)) for k, v in neighbours.items()}


def homophones(ch: str, *, as_surname: bool = False) -> tuple[str, ...]:
    """Other characters of the pool with the same toneless pinyin as ``ch``.

    Parameters
    ----------
    ch : str
        One character.
    as_surname : bool, default False
        Use the surname reading from ``surnames.csv`` (覃 -> qin, not tan).

    Returns
    -------
    tuple of str
        Sorted homophones, never containing ``ch`` itself; empty when there are none.
    """
    reading = _tables().surname_pinyin.get(ch, "") if as_surname else ""
    reading = reading or _reading(ch)
    if not reading:
        return ()
    return tuple(c for c in _homophone_pool().get(_key(reading), ()) if c != ch)


def shape_neighbours(ch: str) -> tuple[str, ...]:
    """Visually similar characters of ``ch`` from ``SHAPE_GROUPS`` (may be empty).

    Parameters
    ----------
    ch : str
        One character.

    Returns
    -------
    tuple of str
        Sorted neighbours, never containing ``ch`` itself.
    """
    return _shape_map().get(ch, ())


# --------------------------------------------------------------------------- generator
class NameGenerator:
    """Draw surnames and given names from the packaged frequency tables.

    The tables are loaded once per process; constructing a generator is cheap.
    All randomness comes from the ``numpy.random.Generator`` passed to each method.
    """

    def __init__(self) -> None:
        t = _tables()
        self._t = t
        self._char_codes = np.array([ord(c) for c in t.chars.tolist()], dtype=np.uint32)
        self._probs: dict[tuple[bool, int], NDArray[np.float64]] = {}
        for male in (True, False):
            allowed = np.isin(t.char_sex, ["m", "n"] if male else ["f", "n"])
            for era in range(len(_ERA_STARTS) + 1):
                factor = np.ones(len(t.chars))
                factor[np.isin(t.chars, list(_ERA_TYPICAL[era]))] *= _ERA_BOOST
                if era == len(_ERA_STARTS):
                    factor[np.isin(t.chars, list(_OLD_FASHIONED))] *= _OLD_FASHIONED_FACTOR
                if era == 0:
                    factor[np.isin(t.chars, list(_MODERN))] *= _MODERN_FACTOR
                w = np.where(allowed, t.char_weight * factor, 0.0)
                self._probs[(male, era)] = w / w.sum()

    @property
    def surname_table(self) -> NDArray[np.str_]:
        """All surnames of the table, most frequent first."""
        return self._t.surnames.copy()

    def surname_probabilities(
        self, multipliers: Mapping[str, float] | None = None
    ) -> NDArray[np.float64]:
        """Drawing probability of each surname of :attr:`surname_table`.

        Parameters
        ----------
        multipliers : mapping of str to float, optional
            Factor applied to the national frequency of the named surnames (e.g.
            ``{"杨": 2.0, "蒙": 5.0}`` for a Guizhou county); others keep factor 1.

        Returns
        -------
        numpy.ndarray
            Probabilities summing to 1.
        """
        p = self._t.surname_p.copy()
        if multipliers:
            for surname, factor in multipliers.items():
                if factor < 0:
                    raise ValueError(f"surname multiplier for {surname!r} must be >= 0")
                p[self._t.surnames == surname] *= factor
        total = p.sum()
        if total <= 0:
            raise ValueError("surname multipliers leave no surname with positive weight")
        out: NDArray[np.float64] = p / total
        return out

    def surnames(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        multipliers: Mapping[str, float] | None = None,
    ) -> NDArray[np.str_]:
        """Draw ``n`` surnames by their frequency.

        Parameters
        ----------
        n : int
            Number of surnames.
        rng : numpy.random.Generator
            Source of randomness.
        multipliers : mapping of str to float, optional
            Regional reweighting, see :meth:`surname_probabilities`.

        Returns
        -------
        numpy.ndarray
            Surnames (dtype ``<U2``; compound surnames have two characters).
        """
        p = self.surname_probabilities(multipliers)
        idx = rng.choice(len(p), size=int(n), p=p)
        out: NDArray[np.str_] = self._t.surnames[idx]
        return out

    def given_names(
        self, male: ArrayLike, birth_year: ArrayLike, rng: np.random.Generator
    ) -> NDArray[np.str_]:
        """Draw one- or two-character given names for the sex and birth cohort.

        Parameters
        ----------
        male : array_like of bool
            True for men (characters marked ``m`` or ``n``), False for women
            (``f`` or ``n``).
        birth_year : array_like of int
            Birth years; set the share of single-character names and the era
            fashion of characters (see the module docstring).
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        numpy.ndarray
            Given names (dtype ``<U2``).
        """
        males = np.asarray(male, dtype=bool).reshape(-1)
        years = np.asarray(birth_year, dtype=np.int64).reshape(-1)
        n = len(males)
        if len(years) != n:
            raise ValueError("given_names: male and birth_year must have the same length")
        starts = np.array([s for s, _ in SINGLE_GIVEN_COHORTS])
        shares = np.array([v for _, v in SINGLE_GIVEN_COHORTS])
        single = rng.random(n) < shares[np.searchsorted(starts, years, side="right") - 1]
        era = np.searchsorted(np.array(_ERA_STARTS), years, side="right")
        codes = np.zeros((n, 2), dtype=np.uint32)
        for is_male in (True, False):
            for e in range(len(_ERA_STARTS) + 1):
                rows = np.flatnonzero((males == is_male) & (era == e))
                if len(rows) == 0:
                    continue
                p = self._probs[(is_male, e)]
                idx = rng.choice(len(p), size=(len(rows), 2), p=p)
                codes[rows] = self._char_codes[idx]
        codes[single, 1] = 0
        return matrix_to_str(codes)

    def full_names(self, surname: ArrayLike, given: ArrayLike) -> NDArray[np.str_]:
        """Concatenate surnames and given names (see :func:`full_names`)."""
        return full_names(surname, given)


def full_names(surname: ArrayLike, given: ArrayLike) -> NDArray[np.str_]:
    """Concatenate surnames and given names element-wise.

    Parameters
    ----------
    surname, given : array_like of str
        Arrays of equal length (or broadcastable).

    Returns
    -------
    numpy.ndarray
        Full names, family name first (``张`` + ``伟`` -> ``张伟``).
    """
    out: NDArray[np.str_] = np.strings.add(as_str_array(surname), as_str_array(given))
    return out


# --------------------------------------------------------------------------- split
def split_name(names: ArrayLike) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """Split full names into family name and given name.

    A name of three or more characters starting with a compound surname of the
    table (欧阳, 上官, 司马 ...) keeps both characters as its surname; otherwise
    the first character is the surname (whether or not it is in the table).

    Parameters
    ----------
    names : array_like of str
        Full names.

    Returns
    -------
    tuple of numpy.ndarray
        ``(surname, given)``; ``given`` is empty for one-character names.
    """
    arr = as_str_array(names)
    n = len(arr)
    width = max(arr.dtype.itemsize // 4, 3)
    codes = code_matrix(arr, width)
    length = (codes != 0).sum(axis=1)
    compound = np.array([_pair_key_str(s) for s in _compound_surnames()], dtype=np.int64)
    compound.sort()
    key = _pair_key(codes[:, 0], codes[:, 1])
    if len(compound):
        pos = np.minimum(np.searchsorted(compound, key), len(compound) - 1)
        is_comp = (compound[pos] == key) & (length >= _COMPOUND_MIN_LEN)
    else:
        is_comp = np.zeros(n, dtype=bool)
    sur = np.zeros((n, 2), dtype=np.uint32)
    sur[:, 0] = codes[:, 0]
    sur[:, 1] = np.where(is_comp, codes[:, 1], 0)
    shifted = np.zeros((n, width - 1), dtype=np.uint32)
    shifted[:, : width - 2] = codes[:, 2:]
    given = np.where(is_comp[:, None], shifted, codes[:, 1:])
    return matrix_to_str(sur), matrix_to_str(given)


def _pair_key_str(pair: str) -> int:
    return (ord(pair[0]) << 21) | ord(pair[1])


# --------------------------------------------------------------------------- typos
@functools.cache
def _name_chars() -> frozenset[str]:
    """Characters of the surname and given-name tables."""
    t = _tables()
    return frozenset(t.chars.tolist()) | frozenset("".join(t.surnames.tolist()))


def _pick_weighted(cands: tuple[str, ...], u: float, preferred: frozenset[str]) -> str:
    """Pick from ``cands`` with uniform ``u``; ``preferred`` ones weigh ``_NAME_CHAR_WEIGHT``."""
    weights = np.array([_NAME_CHAR_WEIGHT if c in preferred else 1.0 for c in cands])
    cum = np.cumsum(weights)
    idx = int(np.searchsorted(cum, u * cum[-1], side="right"))
    return cands[min(idx, len(cands) - 1)]


def mistype_names_kind(
    names: ArrayLike,
    homophone: ArrayLike,
    rng: np.random.Generator,
    *,
    surname_share: float = _SURNAME_TYPO_SHARE,
) -> tuple[NDArray[np.str_], NDArray[np.bool_]]:
    """Change exactly one character of each name and report the kind of change.

    The changed character is a given-name character (chosen at random when there
    are two), or with probability ``surname_share`` the single-character surname.
    Where ``homophone[i]`` is True it is replaced by another character with the same
    toneless pinyin (张伟 -> 张炜); where False, or when the pool has no homophone,
    by a visually similar character (王 -> 玉), or when there is none of those, by a
    random given-name character. The result always differs from the input.

    Parameters
    ----------
    names : array_like of str
        Non-empty names (object arrays are accepted).
    homophone : array_like of bool
        Requested kind per name.
    rng : numpy.random.Generator
        Source of randomness.
    surname_share : float, default 0.1
        Probability of changing a single-character surname instead of the given name
        (assumed).

    Returns
    -------
    tuple of numpy.ndarray
        ``(new_names, applied_homophone)``: the changed names (unicode array) and
        True where a homophone was applied (it can be False where True was asked).

    Raises
    ------
    ValueError
        If the lengths differ or a name is empty.
    """
    arr = as_str_array(names)
    hom = np.asarray(homophone, dtype=bool).reshape(-1)
    n = len(arr)
    if len(hom) != n:
        raise ValueError("mistype_names_kind: names and homophone must have the same length")
    if n == 0:
        return arr.copy(), np.zeros(0, dtype=bool)
    u_surname, u_pos, u_pick = rng.random((3, n))
    compound = set(_compound_surnames())
    t = _tables()
    fallback = t.chars.tolist()
    name_chars = _name_chars()
    out: list[str] = []
    applied = np.zeros(n, dtype=bool)
    for i, name in enumerate(arr.tolist()):
        if not name:
            raise ValueError("mistype_names_kind: cannot mistype an empty name")
        sur_len = 2 if len(name) >= _COMPOUND_MIN_LEN and name[:2] in compound else 1
        if len(name) == 1:
            sur_len = 0
        han = [j for j, ch in enumerate(name) if _is_cjk(ch)] or list(range(len(name)))
        given_pos = [j for j in han if j >= sur_len] or han
        if sur_len == 1 and 0 in han and u_surname[i] < surname_share:
            pos = 0
        else:
            pos = given_pos[int(u_pos[i] * len(given_pos))]
        ch = name[pos]
        cands: tuple[str, ...] = ()
        if hom[i]:
            cands = homophones(ch, as_surname=pos < sur_len)
            applied[i] = bool(cands)
        if cands:
            new = _pick_weighted(cands, u_pick[i], name_chars)
        else:
            cands = shape_neighbours(ch) or tuple(c for c in fallback if c != ch)
            new = cands[int(u_pick[i] * len(cands))]
        out.append(name[:pos] + new + name[pos + 1 :])
    return np.array(out, dtype=arr.dtype if arr.dtype.itemsize else "<U1"), applied


def mistype_names(
    names: ArrayLike, homophone: ArrayLike, rng: np.random.Generator
) -> NDArray[np.str_]:
    """Change exactly one character of each name (see :func:`mistype_names_kind`).

    Parameters
    ----------
    names : array_like of str
        Non-empty names.
    homophone : array_like of bool
        True: replace with a homophone (falls back to a shape-similar character when
        the pool has none); False: replace with a visually similar character.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        The changed names; each differs from its input in exactly one character.
    """
    new, _ = mistype_names_kind(names, homophone, rng)
    return new


# --------------------------------------------------------------------------- romanise
def _roman(reading: str) -> str:
    """Passport-style spelling of a toneless reading: upper case, ``ü`` -> ``YU``."""
    return reading.replace("ü", "yu").replace("v", "yu").upper()


@functools.cache
def _char_roman(ch: str) -> str:
    if ch in "·•・":
        return " "
    value = lazy_pinyin(ch, style=Style.NORMAL, v_to_u=True)[0]
    return ch.upper() if value == ch else _roman(value)


@functools.cache
def _surname_roman(surname: str) -> str:
    reading = _tables().surname_pinyin.get(surname)
    if reading is not None:
        return _roman(reading)
    return "".join(_char_roman(c) for c in surname)


def romanise(names: ArrayLike, given_first: ArrayLike | None = None) -> NDArray[np.str_]:
    """Romanise names as upper-case toneless pinyin.

    Parameters
    ----------
    names : array_like of str
        Full names (family name first).
    given_first : array_like of bool, optional
        Where True, write the given name first (``WEI ZHANG``); default family
        name first (``ZHANG WEI``).

    Returns
    -------
    numpy.ndarray
        Romanised names. The family name uses its surname reading from the table
        (覃 -> ``QIN``, 曾 -> ``ZENG``, 单 -> ``SHAN``); compound surnames are one
        word (``OUYANG NANA``); ``ü`` is written ``YU`` (吕 -> ``LYU``).
    """
    arr = as_str_array(names)
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype="<U1")
    surname, given = split_name(arr)

    sur_codes = code_matrix(surname, 2)
    sur_key = _pair_key(sur_codes[:, 0], sur_codes[:, 1])
    uniq_key = np.unique(sur_key)
    uniq_names = [
        (chr(k >> 21) if k >> 21 else "") + (chr(k & 0x1FFFFF) if k & 0x1FFFFF else "")
        for k in uniq_key.tolist()
    ]
    sur_table = np.array([_surname_roman(s) for s in uniq_names])
    sur_roman = sur_table[np.searchsorted(uniq_key, sur_key)]

    g_width = max(given.dtype.itemsize // 4, 1)
    g_codes = code_matrix(given, g_width)
    uniq_codes = np.unique(g_codes)
    lookup = np.zeros(int(uniq_codes[-1]) + 1, dtype=np.intp)
    lookup[uniq_codes] = np.arange(len(uniq_codes))
    char_table = np.array([_char_roman(chr(c)) if c else "" for c in uniq_codes.tolist()])
    given_roman = char_table[lookup[g_codes[:, 0]]]
    for j in range(1, g_width):
        column = g_codes[:, j]
        if column.any():
            given_roman = np.strings.add(given_roman, char_table[lookup[column]])

    sep = np.where(given_roman == "", "", " ")
    family_first = np.strings.add(np.strings.add(sur_roman, sep), given_roman)
    if given_first is None:
        return family_first
    flip = np.asarray(given_first, dtype=bool).reshape(-1)
    if len(flip) != n:
        raise ValueError("romanise: names and given_first must have the same length")
    reversed_ = np.strings.add(np.strings.add(given_roman, sep), sur_roman)
    out: NDArray[np.str_] = np.where(flip, reversed_, family_first)
    return out
