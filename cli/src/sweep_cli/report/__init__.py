"""What a finished run means: the HTML report, its data and plots, intervals, LLM option tables, comparisons."""
