"""Day-ahead scenarios of a series given its quantile forecast: a copula and a GAN."""
