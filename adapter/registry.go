package adapter

import "sync"

// registry holds the execute functions this engine can run: the tasks of the
// generator and of AdhocDefine, and the children spawned by bodies running here.
type registry struct {
	mu       sync.RWMutex
	tasks    map[string]TaskInstance
	adhoc    map[string]bool
	children map[string]childEntry
}

type childEntry struct {
	execute TaskFunc
	params  map[string]any
	// onProgress forwards the child's reports to its parent's tracker.
	onProgress func(percent *float64, message *string)
}

func newRegistry() *registry {
	return &registry{tasks: map[string]TaskInstance{}, adhoc: map[string]bool{}, children: map[string]childEntry{}}
}

func (r *registry) task(processID string) (TaskInstance, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tasks[processID]
	return t, ok
}

// lookup returns how to run a process here.
func (r *registry) lookup(processID string) (childEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t, ok := r.tasks[processID]; ok && t.Execute != nil {
		return childEntry{execute: t.Execute, params: t.Params}, true
	}
	if c, ok := r.children[processID]; ok && c.execute != nil {
		return c, true
	}
	return childEntry{}, false
}

func (r *registry) holds(processID string) bool {
	_, ok := r.lookup(processID)
	return ok
}

// replace installs the generator's tasks. A full sync (inScope nil) replaces
// every generated task; a filtered one replaces only those inScope matches.
// Ad-hoc tasks are kept either way.
func (r *registry) replace(tasks []TaskInstance, inScope func(TaskInstance) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, t := range r.tasks {
		if r.adhoc[id] {
			continue
		}
		if inScope == nil || inScope(t) {
			delete(r.tasks, id)
		}
	}
	for _, t := range tasks {
		r.tasks[t.ProcessID] = t
		delete(r.adhoc, t.ProcessID)
	}
}

func (r *registry) addAdhoc(t TaskInstance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks[t.ProcessID] = t
	r.adhoc[t.ProcessID] = true
}

func (r *registry) addChild(processID string, c childEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.children[processID] = c
}

func (r *registry) forget(processID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.tasks, processID)
	delete(r.adhoc, processID)
	delete(r.children, processID)
}
