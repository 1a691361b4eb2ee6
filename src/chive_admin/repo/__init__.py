"""Reading ATProto repositories (CAR exports): commit verification and record extraction."""
