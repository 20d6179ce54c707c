"""Custom operators of the employee batch pipeline (shipped in MWAA's plugins.zip)."""
