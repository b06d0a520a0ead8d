"""Helper processes of the production benchmark (``benchmarks.production``): a fake
Asterisk that outlives its AMI readers (``pbx``) and agent screens that reconnect
elsewhere when their server dies (``screens``). Not benchmarks themselves."""
