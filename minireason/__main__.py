from minireason.cli import main

main()
