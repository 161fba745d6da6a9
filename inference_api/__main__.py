from inference_api.cli import main

main()
