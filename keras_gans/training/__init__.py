"""Training around `model.fit`: strategies (`distribute`), callbacks (`callbacks`), run folders (`runs`).

`kg.distribute` and `kg.callbacks` are short names for `kg.training.distribute` and
`kg.training.callbacks`.
"""
