"""A model test: random sequences of every operation on a Table and on a
dict that models it, compared after each step and in full now and then,
across closing and reopening the table."""
import random
import re

import shmkv
from support import TableTest

KEYS = [b"k%d" % i for i in range(60)] + [b"\0binary\xff", "unicode-é".encode()]


def number(model, key):
    """The model's integer at key (absent: 0), or None if its value is not
    one as incr reads them: an optional '-', 1 to 19 digits, in 64 bits."""
    text = model.get(key, b"0")
    if not re.fullmatch(rb"-?[0-9]{1,19}", text) or not -2**63 <= int(text) < 2**63:
        return None
    return int(text)


class ModelTest(TableTest):
    def step(self, t, model, rng):
        k = rng.choice(KEYS)
        v = rng.randbytes(rng.choice((0, 1, 10, 100, 2000)))
        op = rng.randrange(14)
        if op == 0:
            t[k] = v
            model[k] = v
        elif op == 1:
            self.assertEqual(t.get(k), model.get(k))
        elif op == 2:
            self.assertEqual(t.add(k, v), k not in model)
            model.setdefault(k, v)
        elif op == 3:
            self.assertEqual(t.replace(k, v), k in model)
            if k in model:
                model[k] = v
        elif op == 4:
            expected = model.get(k) if rng.random() < 0.7 else b"not it"
            ok = t.set(k, v, if_equal=expected if expected is not None else b"x")
            self.assertEqual(ok, expected is not None and model.get(k) == expected)
            if ok:
                model[k] = v
        elif op == 5:
            delta = rng.randrange(-1000, 1000)
            n = number(model, k)
            if n is None:
                with self.assertRaises(shmkv.InvalidError):
                    t.incr(k, delta)
            else:
                self.assertEqual(t.incr(k, delta), n + delta)
                model[k] = b"%d" % (n + delta)
        elif op == 6:
            t.append(k, v)
            model[k] = model.get(k, b"") + v
        elif op == 7:
            self.assertEqual(t.take(k), model.pop(k, None))
        elif op == 8:
            if k in model:
                del t[k]
                del model[k]
            else:
                with self.assertRaises(KeyError):
                    del t[k]
        elif op == 9:
            self.assertEqual(k in t, k in model)
        elif op == 10:
            ks = rng.sample(KEYS, 8)
            self.assertEqual(t.get_many(ks), {x: model[x] for x in ks if x in model})
        elif op == 11:
            pairs = {x: rng.randbytes(rng.randrange(50)) for x in rng.sample(KEYS, 5)}
            t.set_many(pairs)
            model.update(pairs)
        elif op == 12:
            self.assertEqual(t.pop(k, None), model.pop(k, None))
        else:
            self.assertEqual(len(t), len(model))

    def test_random_operations_match_a_dict(self):
        name = self.name()
        model = {}
        for seed in range(6):
            rng = random.Random(seed)
            with self.subTest(seed=seed), shmkv.Table(name) as t:
                for _ in range(1500):
                    self.step(t, model, rng)
                self.assertEqual(dict(t.items()), model)
                self.assertEqual(len(t), len(model))
                self.assertEqual(t.check(), [])
            if seed == 3:
                with shmkv.Table(name) as t:
                    t.clear()
                model.clear()
        with shmkv.Table(name, readonly=True) as t:
            self.assertEqual(dict(t.items()), model)
        shmkv.unlink(name)
