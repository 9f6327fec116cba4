"""`pockettorch sdk ios`: a Swift package (C runtime target + typed Swift API + XCTest) for one .ptm model."""
