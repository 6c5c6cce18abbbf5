"""CloudFormation: templates validated and summarized (and, with the stack engine, stacks)."""
