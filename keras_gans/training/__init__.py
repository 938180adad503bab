"""Training bookkeeping around `model.fit`: run folders (`runs`)."""
