"""Stage 5: comparing results. Shares, ranks, agreement between methods, SHAP additivity and the
bootstrap rank intervals."""
