// `rlef` command line entry point.
process.stdout.write("rlef: no commands yet\n");
