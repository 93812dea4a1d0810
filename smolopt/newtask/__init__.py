"""`smolopt new`: a user's labeled table (CSV, TSV, JSONL) becomes a task folder, with no Python written.

    table     the file read into rows of text, with the line each starts on; its errors
    fields    column names as Python names ("Customer message" → customer_message)
    rows      the chosen columns' rows, checked: missing columns, empty cells, duplicates, labels
    split     train / val / test sized for the data and stratified by label
    template  the task.py it writes
    command   all of it, checked before anything is written (`make_task`, `new_task`)
    report    the printout: what it made and chose, and the next commands
"""

from smolopt.newtask.command import NewTask, make_task, new_task

__all__ = ["NewTask", "make_task", "new_task"]
