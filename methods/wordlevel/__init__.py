"""What the word-level baselines (Att2Seq, NRT, PETER) share.

Light at import time (the method registry imports this package): no torch here. The parts:

- ``early_stopping``: the official cumulative early-stopping loop (pure Python; PEPLER uses it too);
- ``tokenizer``: word tokenisation, the train-only vocabulary and detokenisation;
- ``ids``: user/item id maps over all splits, with the unseen-id report;
- ``sequences``, ``training``, ``decoding``: torch code, imported inside ``fit``/``explain``;
- ``method``: the ``WordLevelMethod`` base class the three methods subclass.
"""
