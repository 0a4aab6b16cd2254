from stripe_standin.server import main

main()
