"""``python -m xai_cli`` runs the same CLI as the ``xai`` console script."""

from xai_cli.cli import main

if __name__ == "__main__":
    main()
