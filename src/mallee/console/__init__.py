"""The web console (Eucalyptus' EucaConsole), served at /console/ by the api server.

It is a client of the cloud like any other: every page calls the public API through botocore
with the temporary credentials a password sign-in (STS GetAccessToken) returned.
"""
