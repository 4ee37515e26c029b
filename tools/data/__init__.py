"""Data tools (on the runtime): show, export, evaluate. (labelio, remap_dir and prepare/ are data tools too,
still at tools/ for now.)"""
