"""The service registry and cloud properties: which components exist and how the cloud is set.

Shared by every process (the api, the controller, the node agents, the cli), so it sits below
all of them; Empyrean (services/empyrean) is only its admin API.
"""
