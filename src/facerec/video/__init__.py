"""Video: read a file, camera or stream, track faces between detections, name or cluster each track."""
from facerec.video.identity import OnlineClusters, TrackIdentity
from facerec.video.pipeline import VideoOptions, VideoProcessor, VideoReport
from facerec.video.source import VideoSource, open_source, open_writer
from facerec.video.tracker import Tracker, iou_matrix

__all__ = ["OnlineClusters", "TrackIdentity", "Tracker", "VideoOptions", "VideoProcessor", "VideoReport",
           "VideoSource", "iou_matrix", "open_source", "open_writer"]
