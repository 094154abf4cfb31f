package graceful

// ResetStoreUse forgets what this process took from and added to the file
// descriptor store, for a test that starts a new fake manager.
func ResetStoreUse() {
	storeUse.Lock()
	defer storeUse.Unlock()
	storeUse.tookBack, storeUse.added = 0, 0
}
