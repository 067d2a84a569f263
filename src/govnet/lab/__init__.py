"""The lab platform: the city's hosts as systemd-nspawn containers on this machine.

Each host is a network namespace plus an overlay over one cached Debian base; links are veth
pairs; LAN segments and the simulated Internet are bridges in two helper namespaces; a management
bridge in the machine's own namespace carries Ansible and the hosts' package proxy. Nothing here
knows about Pulumi: the provisioning stage calls these functions from its dynamic providers, and
``govnet down`` calls :func:`govnet.lab.teardown.sweep` to remove whatever a lab left behind.
"""
