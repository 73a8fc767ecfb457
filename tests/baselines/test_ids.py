"""User/item id maps over all splits and the report of test ids unseen in training (as officially)."""

from xrec_bench.methods.wordlevel.ids import IdMap, build_id_maps, unseen_report
from xrec_bench.records import DatasetSplits, Record


def record(uid, iid):
    return Record(f"{uid}-{iid}", uid, iid, "", "", "", "text")


def test_ids_are_mapped_over_all_splits_and_strangers_share_the_last_row():
    train, valid, test = [record(10, 1), record(30, 2)], [record(20, 2)], [record(40, 3), record(10, 3)]
    users, items = build_id_maps(DatasetSplits("d", train, valid, test, None, {}))
    assert [users(u) for u in (10, 20, 30, 40)] == [0, 1, 2, 3]
    assert users(99) == users(1234) == 4 and users.num_rows == 5
    assert items.num_rows == 4
    assert IdMap(users.raw_ids).rows == users.rows


def test_unseen_report_counts_test_users_items_and_pairs_absent_from_train():
    train = [record(1, 1), record(2, 2)]
    test = [record(1, 2), record(1, 3), record(3, 1), record(2, 2)]
    assert unseen_report(train, test) == {
        "test_users_unseen": 1, "test_users": 3, "test_items_unseen": 1, "test_items": 3,
        "test_pairs_with_unseen_user_or_item": 2, "test_pairs_unseen_share": 0.5}
