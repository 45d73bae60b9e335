"""The detection family: the R-CNN baseline and Mask R-CNN (Faster R-CNN with a mask head) on cluttered scenes."""
