"""Frame sources: synthetic scenes and videos, image folders, video files, cameras, ICDAR 2015, word crops, sentence sets."""
