"""Classic ELB on the node: each load balancer worker placed here is an HAProxy in a network
namespace of its own (workers.py), configured from the ELB rows (desired.py, config.py)."""
