"""Frame sources: synthetic scenes, image folders, video files, ICDAR 2015."""
