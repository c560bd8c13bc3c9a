"""Quality: is a policy right? Policy tests, evaluation on labelled requests, fitting scores.

    policy_tests.py         `*.test.toml` files: requests and the decisions expected for them
    labelled_data.py        reading labelled requests (JSONL) and splitting them into folds
    evaluate.py             recall per tier, confusion, cost and quality against strong/weak scores
    tune.py                 fitting a policy's weighted scores to labelled data
    logistic_regression.py  the regularised logistic regression tune fits with

May import `rulerouter.decide` and `rulerouter.policy`; used by the CLI, never by `Router`.
"""

__all__: list[str] = []
