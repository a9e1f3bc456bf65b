from stmtprod.cli import main

main()
