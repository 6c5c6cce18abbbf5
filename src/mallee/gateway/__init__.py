"""The front door: the server that mounts the services and the console, the chain every
request runs through, the routing that finds its service, the catalog of services, and the
internal call by which one service uses another."""
