"""Data tools (on the runtime): show, export. (labelio, remap_dir and prepare/ are data tools too,
still at tools/ for now.)"""
