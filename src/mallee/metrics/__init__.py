"""CloudWatch's metric data, shared by the cloudwatch service (PutMetricData, statistics) and
the controller (built-in metrics, alarms, purging): datapoints kept as statistic sets per
period bucket in AWS's roll-up tiers, with a mergeable histogram for percentiles."""
