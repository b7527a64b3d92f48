"""Pinyin syllables, to tell a sentence typed in pinyin ("wo yao tousu ni men") from English words: a
lexicon term written in pinyin counts between pinyin words, not inside or next to English ones ("usb")."""

from __future__ import annotations

from functools import lru_cache

# Every toneless syllable of Mandarin (ü written v), as pypinyin spells the characters U+4E00-U+9FA5.
_SYLLABLES = (
    "a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang cao "
    "ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan chuang chui "
    "chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de den deng di dian diao die ding diu "
    "dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fiao fo fou fu ga gai gan gang "
    "gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai han hang hao he hei hen heng "
    "hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan "
    "jue jun ka kai kan kang kao ke ken keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang "
    "lao le lei leng li lia lian liang liao lie lin ling liu lo long lou lu luan lun luo lv lve ma mai "
    "man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne nei nen "
    "neng ni nian niang niao nie nin ning niu nong nou nu nuan nun nuo nv nve o ou pa pai pan pang pao "
    "pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu "
    "quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen "
    "seng sha shai shan shang shao she shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si "
    "song sou su suan sui sun suo ta tai tan tang tao te teng ti tian tiao tie ting tong tou tu tuan tui "
    "tun tuo wa wai wan wang wei wen weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue "
    "xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng "
    "zha zhai zhan zhang zhao zhe zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi "
    "zong zou zu zuan zui zun zuo"
)
_LONGEST = 6


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    return frozenset(_SYLLABLES.split())


def is_pinyin_word(word: str) -> bool:
    """`word` (lower-case letters) splits into pinyin syllables ("yao", "nimen", "tousu"; not "the")."""
    if not word or len(word) > 48:
        return False
    known = syllables()
    ends = [True] + [False] * len(word)  # ends[i]: word[:i] splits into syllables
    for i in range(1, len(word) + 1):
        ends[i] = any(ends[i - k] and word[i - k : i] in known for k in range(1, min(_LONGEST, i) + 1))
    return ends[-1]
