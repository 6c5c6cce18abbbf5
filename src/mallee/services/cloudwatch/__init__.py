"""CloudWatch: metrics (PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics)."""
