"""What the seed (eucalyptus-release-notes.txt) prints, as the tests compare it."""

# The seed's table (eucalyptus-release-notes.txt, "5. More instance type"), byte for byte.
SEED_TABLE = """\
INSTANCETYPE\tName         CPUs  Memory (MB)  Disk (GB)
INSTANCETYPE\tm1.small        1          256          5
INSTANCETYPE\tt1.micro        1          256          5
INSTANCETYPE\tm1.medium       1          512         10
INSTANCETYPE\tc1.medium       2          512         10
INSTANCETYPE\tm1.large        2          512         10
INSTANCETYPE\tm1.xlarge       2         1024         10
INSTANCETYPE\tc1.xlarge       2         2048         10
INSTANCETYPE\tm2.xlarge       2         2048         10
INSTANCETYPE\tm3.xlarge       4         2048         15
INSTANCETYPE\tm2.2xlarge      2         4096         30
INSTANCETYPE\tm3.2xlarge      4         4096         30
INSTANCETYPE\tcc1.4xlarge     8         3072         60
INSTANCETYPE\tm2.4xlarge      8         4096         60
INSTANCETYPE\thi1.4xlarge     8         6144        120
INSTANCETYPE\tcc2.8xlarge    16         6144        120
INSTANCETYPE\tcg1.4xlarge    16        12288        200
INSTANCETYPE\tcr1.8xlarge    16        16384        240
INSTANCETYPE\ths1.8xlarge    48       119808      24000"""
