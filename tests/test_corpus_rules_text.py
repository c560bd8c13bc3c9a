"""The corpus rules of the text sources (TweetEval), on small in-test fixtures."""

from __future__ import annotations

from bench.data import corpus_rules_text as text


def test_tweeteval_labels_come_from_the_mapping_in_id_order_emoji_as_emoji() -> None:
    assert text.tweeteval_labels("1\tjoy\n0\tanger\n\n") == ["anger", "joy"]
    assert text.tweeteval_labels("0\t❤\t_red_heart_\n1\t🔥\t_fire_\n") == ["❤", "🔥"]


def test_tweeteval_every_tweet_is_bulk_phrased_in_turn_with_the_task_labels() -> None:
    got = list(text.tweeteval_candidates("stance/climate", ["Hot again today", "  ", "Plant trees", "Ice melts"],
                                         ["none", "against", "favor"]))
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("stance/climate/0", "bulk", "stance/climate"), ("stance/climate/2", "bulk", "stance/climate"),
        ("stance/climate/3", "bulk", "stance/climate")]
    assert got[0].prompt == ("Label this tweet with its stance on climate change being a real concern. "
                             "Answer with one of: none, against, favor.\n\nTweet: Hot again today")
    assert got[1].prompt.startswith("Classify the tweet below by its stance on climate change")
    assert got[2].prompt.startswith("Label this tweet with")  # line 3: the phrasings come round again

