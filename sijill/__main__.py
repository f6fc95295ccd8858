from sijill.cli import main

main()
