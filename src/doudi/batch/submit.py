"""Entry file for ``spark-submit`` (which runs a file, not a module): ``doudi verify`` and ``verify-ingest``.

    spark-submit --master yarn "$(python -c 'import doudi.batch.submit as s; print(s.__file__)')" verify ...

Absolute imports only: ``cli.py`` itself cannot be run as a file (its imports are relative to the package).
"""

from doudi.batch.cli import main

if __name__ == "__main__":
    main()
