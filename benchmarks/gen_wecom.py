"""Reproducible generator of realistic WeCom 会话存档 traffic for benchmarks.

Seeded; mixes every msgtype in the proportions of the public sample (templates taken from
examples/wecom/archive_sample.jsonl with fresh ids and times), Chinese business chat of realistic length,
and a few percent of risky lines. Streams to disk, so it can write files of many GB.

usage: python benchmarks/gen_wecom.py OUT.jsonl --n 100000 [--seed 7] [--bytes 1G]"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "wecom" / "archive_sample.jsonl"

OPENERS = ["您好", "亲", "王姐", "李先生", "早上好", "不好意思久等了", "收到", "好的", "嗯嗯", "麻烦您"]
BODIES = [
    "这款空气净化器的滤网建议三到六个月换一次，具体看使用环境",
    "您预约的是周六下午两点，到店后报手机尾号就可以",
    "订单已经安排发货了，预计后天送到，物流单号稍后发您",
    "水光疗程一般三次一个周期，每次间隔四周左右效果比较好",
    "体检报告出来了，血脂稍微偏高，建议少油少盐多运动",
    "这批货的报价单我整理好了，含税价格，账期按合同走",
    "会员积分可以抵扣现金，一百积分抵一元，下单时自动计算",
    "门店地址在滨江区江南大道，地铁一号线出来步行五分钟",
    "您说的问题我已经反馈给售后了，今天之内会有人联系您",
    "牙齿矫正前需要先拍片子，医生看过之后再定方案",
    "活动价只到本周日，之后恢复原价，您可以考虑一下",
    "发票我们这边统一开电子票，会发到您预留的邮箱",
]
CLOSERS = ["谢谢", "有问题随时找我", "祝您生活愉快", "😊", "好的呢", "", "", ""]
RISKY = [
    "这单别在店里拍了，直接转我个人支付宝，给您便宜点",
    "加我私人微信吧，以后直接找我",
    "这个理财产品保本保息，稳赚不赔",
    "合同签了给您个人返三个点",
    "再不处理我就打12315投诉你们",
    "把身份证号和银行卡号发我一下，我帮您办",
]


def _text(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(RISKY)
    parts = [rng.choice(OPENERS), "，", rng.choice(BODIES)]
    if rng.random() < 0.4:
        parts += ["。", rng.choice(BODIES)]
    parts += ["，", rng.choice(CLOSERS)]
    return "".join(parts)


def generate(out, n: int | None, seed: int, max_bytes: int | None = None) -> int:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    templates = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    templates = [t for t in templates if t.get("msgtype") not in {"revoke"}]
    texts = [t for t in templates if t.get("msgtype") == "text"]
    others = [t for t in templates if t.get("msgtype") != "text"]
    t_ms = 1_714_955_400_000
    written = count = 0
    while (n is None or count < n) and (max_bytes is None or written < max_bytes):
        base = rng.choice(texts) if rng.random() < 0.75 else rng.choice(others)
        rec = json.loads(json.dumps(base))
        t_ms += rng.randint(200, 60_000)
        if "msgid" in rec:
            rec["msgid"] = f"{rng.getrandbits(64):020d}_{t_ms}_external"
            rec["msgtime"] = t_ms
        else:  # switch record
            rec["time"] = t_ms
        if rec.get("msgtype") == "text":
            rec["text"]["content"] = _text(rng)
        line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode("utf-8")
        out.write(data)
        written += len(data)
        count += 1
    return count


def _size(s: str) -> int:
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * mult[s[-1].upper()]) if s[-1].upper() in mult else int(s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--n", type=int)
    ap.add_argument("--bytes", dest="max_bytes")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if a.n is None and a.max_bytes is None:
        sys.exit("give --n or --bytes")
    with open(a.out, "wb") as fh:
        count = generate(fh, a.n, a.seed, _size(a.max_bytes) if a.max_bytes else None)
    print(f"wrote {count} records to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
