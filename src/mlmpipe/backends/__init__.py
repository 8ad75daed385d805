"""Alternative estimation backends behind the result interface of mlmpipe.fit."""
